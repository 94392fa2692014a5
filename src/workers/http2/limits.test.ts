// Protection as a production server needs, asserted on the wire with a raw peer over TCP: the advertised
// SETTINGS_MAX_CONCURRENT_STREAMS (extra streams refused), SETTINGS_MAX_HEADER_LIST_SIZE (answered 431,
// the connection lives on), and floods cut off with GOAWAY ENHANCE_YOUR_CALM.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ErrorCode, Flag, FrameType, SettingId, encodeFrame, encodePing, encodeRstStream, encodeSettings, encodeWindowUpdate, errorName } from './frames.ts';
import { startEchoServer, type EngineServer } from '../../../test/support/h2-engine.ts';
import { RawPeer } from '../../../test/support/h2-raw.ts';

const { CANCEL } = ErrorCode;
const frame = encodeFrame;
/** A raw peer's request that stays open: the client advertises window 0, so no response DATA can flow. */
const NO_WINDOW: Array<[number, number]> = [[SettingId.INITIAL_WINDOW_SIZE, 0]];
const peers: RawPeer[] = [];
let server: EngineServer;

async function peer(): Promise<RawPeer> {
  const p = await RawPeer.connect(server.port);
  p.ackSettings();
  peers.push(p);
  return p;
}

before(async () => {
  server = await startEchoServer();
});
after(async () => {
  for (const p of peers) p.close();
  await server.close();
});

describe('limits', () => {
  it('streams beyond SETTINGS_MAX_CONCURRENT_STREAMS are refused with REFUSED_STREAM', async () => {
    const limited = await startEchoServer({ maxConcurrentStreams: 2 });
    try {
      const p = await RawPeer.connect(limited.port, NO_WINDOW);
      peers.push(p);
      p.ackSettings();
      const settings = await p.waitFor((f) => f.type === FrameType.SETTINGS && f.flags === 0, 'SETTINGS');
      assert.deepEqual([settings.payload.readUInt16BE(0), settings.payload.readUInt32BE(2)], [SettingId.MAX_CONCURRENT_STREAMS, 2]);
      p.send(p.get(1, '/size/100'), p.get(3, '/size/100'), p.get(5, '/size/100'));
      assert.equal(errorName(await p.rst(5)), 'REFUSED_STREAM');
      assert.equal(p.frames.find((f) => f.type === FrameType.RST_STREAM && f.streamId !== 5), undefined);
    } finally {
      await limited.close();
    }
  });

  it('a head above SETTINGS_MAX_HEADER_LIST_SIZE is answered 431, and the connection lives on', async () => {
    const limited = await startEchoServer({ maxHeaderListSize: 1000 });
    try {
      const p = await RawPeer.connect(limited.port);
      peers.push(p);
      p.ackSettings();
      p.send(p.get(1, '/echo', true, ['x-big', 'b'.repeat(1200)]));
      assert.equal((await p.responseHead(1))[1], '431');
      p.send(p.get(3));
      assert.equal((await p.responseHead(3))[1], '200');
    } finally {
      await limited.close();
    }
  });
});

describe('floods → GOAWAY ENHANCE_YOUR_CALM', () => {
  let tight: EngineServer;
  before(async () => {
    tight = await startEchoServer({ floods: { resets: [20, 1], acks: [20, 1], empty: [20, 1], windowUpdates: [50, 1] } });
  });
  after(() => tight.close());

  async function floodedWith(frames: Buffer[]): Promise<string> {
    const p = await RawPeer.connect(tight.port);
    peers.push(p);
    p.ackSettings();
    p.send(...frames);
    return errorName((await p.goaway())[1]);
  }

  it('PING flood', async () => {
    assert.equal(await floodedWith(Array.from({ length: 30 }, () => encodePing(Buffer.alloc(8), false))), 'ENHANCE_YOUR_CALM');
  });
  it('SETTINGS flood', async () => {
    assert.equal(await floodedWith(Array.from({ length: 30 }, () => encodeSettings([]))), 'ENHANCE_YOUR_CALM');
  });
  it('empty DATA flood', async () => {
    const p = await peer();
    const head = p.headers(1, [':method', 'POST', ':scheme', 'http', ':path', '/size/0', ':authority', 'x'], false);
    assert.equal(await floodedWith([head, ...Array.from({ length: 30 }, () => frame(FrameType.DATA, 0, 1))]), 'ENHANCE_YOUR_CALM');
  });
  it('WINDOW_UPDATE flood', async () => {
    assert.equal(await floodedWith(Array.from({ length: 60 }, () => encodeWindowUpdate(0, 1))), 'ENHANCE_YOUR_CALM');
  });
  it('rapid reset: streams opened and reset at once', async () => {
    const p = await peer();
    const frames: Buffer[] = [];
    for (let id = 1; id < 60; id += 2) frames.push(p.get(id, '/echo', false), encodeRstStream(id, CANCEL));
    assert.equal(await floodedWith(frames), 'ENHANCE_YOUR_CALM');
  });
  it('MadeYouReset: streams the client makes us reset (WINDOW_UPDATE of 0 on each)', async () => {
    const p = await peer();
    const frames: Buffer[] = [];
    for (let id = 1; id < 60; id += 2) frames.push(p.get(id, '/echo', false), encodeWindowUpdate(id, 0));
    assert.equal(await floodedWith(frames), 'ENHANCE_YOUR_CALM');
  });
  it('CONTINUATION flood: a header block that never ends', async () => {
    const frames = [frame(FrameType.HEADERS, 0, 1, Buffer.from([0x82]))];
    for (let i = 0; i < 100; i++) frames.push(frame(FrameType.CONTINUATION, 0, 1, Buffer.from('x'.repeat(2000))));
    assert.equal(await floodedWith(frames), 'ENHANCE_YOUR_CALM');
  });
});
