// The engine's own API on real sockets, against a raw peer that controls every byte: windows that go
// negative on a SETTINGS change and exactly how much DATA is then sent; refunds batched at half a window;
// bytes already read by protocol detection (`head`); PING round trips; a client's GOAWAY and close.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { H2Connection } from './connection.ts';
import { ErrorCode, Flag, FrameType, SettingId, encodeFrame, encodeSettings, encodeSettingsAck, encodeWindowUpdate } from './frames.ts';
import { EchoHandler, EngineClient, startEchoServer } from '../../../test/support/h2-engine.ts';
import { RawPeer } from '../../../test/support/h2-raw.ts';

const POST = [':method', 'POST', ':scheme', 'http', ':path', '/up', ':authority', 'test'];

/** A raw server for one engine client; resolves the accepted peer. */
async function rawServer(): Promise<{ port: number; accepted: Promise<RawPeer>; close(): void }> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const accepted = new Promise<RawPeer>((resolve) => server.once('connection', (socket) => resolve(RawPeer.accept(socket))));
  return { port: (server.address() as net.AddressInfo).port, accepted, close: () => server.close() };
}

const dataBytes = (peer: RawPeer, streamId: number): number =>
  peer.frames.filter((f) => f.type === FrameType.DATA && f.streamId === streamId).reduce((n, f) => n + f.payload.length, 0);

async function until(what: string, check: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

describe('H2Connection flow control (client role, raw server)', { timeout: 15_000 }, () => {
  it('a smaller SETTINGS_INITIAL_WINDOW_SIZE takes the stream window negative; DATA resumes only above zero', async () => {
    const srv = await rawServer();
    const client = await EngineClient.connect(srv.port);
    try {
      const peer = await srv.accepted;
      // Connection window large, stream window the default 65,535: the client sends exactly that much.
      peer.send(encodeSettings([]), encodeSettingsAck(), encodeWindowUpdate(0, 1 << 20));
      await sleep(20);
      const { stream } = await client.request(POST, Buffer.alloc(200_000, 1));
      await until('65,535 bytes', () => dataBytes(peer, 1) === 65_535);
      // The window shrinks by 49,151 after the bytes were sent: 16,384 - 65,535 = -49,151.
      peer.send(encodeSettings([[SettingId.INITIAL_WINDOW_SIZE, 16_384]]));
      await until('the second SETTINGS ACK', () => peer.frames.filter((f) => f.type === FrameType.SETTINGS && f.flags === Flag.ACK).length === 2);
      assert.equal(stream.sendWindow, -49_151);
      peer.send(encodeWindowUpdate(1, 49_151));
      await sleep(50);
      assert.equal(dataBytes(peer, 1), 65_535, 'nothing while the window is at zero');
      peer.send(encodeWindowUpdate(1, 10));
      await until('10 more bytes', () => dataBytes(peer, 1) === 65_545);
      await sleep(30);
      assert.equal(dataBytes(peer, 1), 65_545);
      assert.equal(stream.queuedBytes, 200_000 - 65_545);
    } finally {
      client.conn.close();
      srv.close();
    }
  });

  it('DATA frames never exceed the peer SETTINGS_MAX_FRAME_SIZE, and grow with it', async () => {
    const srv = await rawServer();
    const client = await EngineClient.connect(srv.port);
    try {
      const peer = await srv.accepted;
      peer.send(encodeSettings([[SettingId.MAX_FRAME_SIZE, 20_000], [SettingId.INITIAL_WINDOW_SIZE, 1 << 20]]), encodeSettingsAck(), encodeWindowUpdate(0, 1 << 20));
      await sleep(20);
      await client.request(POST, Buffer.alloc(100_000, 2));
      await until('all bytes', () => dataBytes(peer, 1) === 100_000);
      const sizes = peer.frames.filter((f) => f.type === FrameType.DATA).map((f) => f.payload.length);
      assert.deepEqual(sizes, [20_000, 20_000, 20_000, 20_000, 20_000]);
      const last = peer.frames.filter((f) => f.type === FrameType.DATA).at(-1)!;
      assert.equal(last.flags & Flag.END_STREAM, Flag.END_STREAM);
    } finally {
      client.conn.close();
      srv.close();
    }
  });
});

describe('H2Connection refunds (server role)', { timeout: 15_000 }, () => {
  it('sends a stream WINDOW_UPDATE only once half a window was consumed, and the connection one at half its window', async () => {
    const server = await startEchoServer({ streamWindow: 20_000, connectionWindow: 100_000 });
    try {
      const peer = await RawPeer.connect(server.port);
      peer.ackSettings();
      await peer.waitFor((f) => f.type === FrameType.SETTINGS && f.flags === Flag.ACK, 'SETTINGS ACK');
      // /size/0 consumes at once: 9,999 bytes stay below half the stream window, 10,000 reach it.
      peer.send(peer.headers(1, [...POST.slice(0, 4), ':path', '/size/0', ':authority', 'x'], false), encodeFrame(FrameType.DATA, 0, 1, Buffer.alloc(9_999)));
      await sleep(50);
      const updates = (): number[] => peer.frames.filter((f) => f.type === FrameType.WINDOW_UPDATE && f.streamId === 1).map((f) => f.payload.readUInt32BE(0));
      assert.deepEqual(updates(), []);
      peer.send(encodeFrame(FrameType.DATA, 0, 1, Buffer.alloc(1)));
      await until('a stream WINDOW_UPDATE', () => updates().length === 1);
      assert.deepEqual(updates(), [10_000]);
      peer.send(...Array.from({ length: 4 }, () => encodeFrame(FrameType.DATA, 0, 1, Buffer.alloc(10_000))));
      await until('a connection WINDOW_UPDATE', () => peer.frames.filter((f) => f.type === FrameType.WINDOW_UPDATE && f.streamId === 0).length === 2);
      const connUpdates = peer.frames.filter((f) => f.type === FrameType.WINDOW_UPDATE && f.streamId === 0).map((f) => f.payload.readUInt32BE(0));
      assert.deepEqual(connUpdates, [100_000 - 65_535, 50_000]);
      peer.close();
    } finally {
      await server.close();
    }
  });
});

describe('H2Connection lifecycle', { timeout: 15_000 }, () => {
  it('parses bytes already read by protocol detection (`head`) before the socket’s own', async () => {
    const server = net.createServer((socket) => {
      socket.once('data', (first: Buffer) => {
        socket.pause();
        const handler = new EchoHandler();
        handler.conn = new H2Connection(socket, 'server', handler, { head: first });
        socket.resume();
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const peer = await RawPeer.connect((server.address() as net.AddressInfo).port);
      peer.ackSettings();
      peer.send(peer.get(1));
      assert.equal((await peer.responseHead(1))[1], '200');
      peer.close();
    } finally {
      server.close();
    }
  });

  it('ping() is answered through onPingAck with the same bytes', async () => {
    const server = await startEchoServer();
    const client = await EngineClient.connect(server.port);
    try {
      const acks: string[] = [];
      client.onPingAck = (opaque: Buffer) => void acks.push(opaque.toString());
      client.conn.ping(Buffer.from('rtt-0001'));
      await until('the PING ACK', () => acks.length === 1);
      assert.deepEqual(acks, ['rtt-0001']);
    } finally {
      client.conn.close();
      await server.close();
    }
  });

  it('a client GOAWAY lets its streams finish, then closes; close() resets what is open', async () => {
    const server = await startEchoServer();
    const client = await EngineClient.connect(server.port);
    try {
      const slow = await client.request([':method', 'GET', ':scheme', 'http', ':path', '/size/3000000', ':authority', 'x']);
      client.conn.goaway(ErrorCode.NO_ERROR, true);
      assert.equal(client.conn.canOpenStream(), false);
      const r = await slow.response;
      assert.equal(r.body.length, 3_000_000);
      await until('the connection to close', () => client.closeError !== undefined);
      assert.equal(client.closeError, null);

      const second = await EngineClient.connect(server.port);
      // A response far larger than the windows, never read: still open when close() comes.
      const open = await second.request([':method', 'GET', ':scheme', 'http', ':path', '/size/50000000', ':authority', 'x'], undefined, { paused: true });
      await sleep(50);
      second.conn.close();
      assert.equal((await open.response).resetCode, ErrorCode.CANCEL);
      assert.equal(second.closeError, null);
      assert.ok(second.socket.destroyed || second.socket.writableEnded);
    } finally {
      await server.close();
    }
  });
});
