// Hostile input (fast-check): random sequences of frames — valid heads mixed with arbitrary types, flags,
// stream ids and payloads — sent over a real socket to the engine as a server, and as a client (from a
// server answering its requests). Whatever
// arrives, the engine must either stay usable (it answers a PING) or end the connection with a GOAWAY
// carrying a protocol error code; never INTERNAL_ERROR, which is what an exception inside the engine
// (or the echo handler) turns into.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { ErrorCode, Flag, FrameType, encodeFrame, encodePing, encodeSettingsAck, errorName } from './frames.ts';
import net from 'node:net';
import { once } from 'node:events';
import { EngineClient, startEchoServer, type EngineServer } from '../../../test/support/h2-engine.ts';
import { RawPeer } from '../../../test/support/h2-raw.ts';

let server: EngineServer;
before(async () => {
  server = await startEchoServer({ streamWindow: 1000, connectionWindow: 70_000 });
});
after(() => server.close());

type Step =
  | { kind: 'request'; streamId: number; path: string; endStream: boolean }
  | { kind: 'frame'; type: number; flags: number; streamId: number; payload: Uint8Array };

const arbStep: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    kind: fc.constant('request' as const),
    streamId: fc.constantFrom(1, 3, 5, 7, 9),
    path: fc.constantFrom('/echo', '/size/5000', '/reset', '/early', '/trailers', '/trailers-only'),
    endStream: fc.boolean(),
  }),
  fc.record({
    kind: fc.constant('frame' as const),
    type: fc.integer({ min: 0, max: 10 }),
    flags: fc.constantFrom(0, Flag.END_STREAM, Flag.END_HEADERS, Flag.PADDED, Flag.PRIORITY, 0xff),
    streamId: fc.constantFrom(0, 1, 2, 3, 5, 9, 0x7fffffff),
    payload: fc.oneof(fc.uint8Array({ maxLength: 40 }), fc.constantFrom(new Uint8Array(4), new Uint8Array(8), Uint8Array.from([0, 0, 0, 1]))),
  }),
);

describe('engine server under hostile frame sequences', { timeout: 120_000 }, () => {
  it('answers a PING or ends with a protocol GOAWAY, never an internal error', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(arbStep, { minLength: 1, maxLength: 12 }), async (steps) => {
        const peer = await RawPeer.connect(server.port);
        try {
          peer.ackSettings();
          const bytes: Buffer[] = [];
          for (const step of steps) {
            if (step.kind === 'request') bytes.push(peer.get(step.streamId, step.path, step.endStream));
            else bytes.push(encodeFrame(step.type, step.flags, step.streamId, step.payload));
          }
          peer.send(...bytes, encodePing(Buffer.from('probe!!!'), false));
          // A valid GOAWAY from the client lets the engine close cleanly once it has no streams.
          const saidGoodbye = steps.some((s) => s.kind === 'frame' && s.type === FrameType.GOAWAY && s.streamId === 0 && s.payload.length >= 8);
          if (saidGoodbye) {
            await peer.closed(5000).catch(() => peer.waitFor((f) => f.type === FrameType.PING && (f.flags & Flag.ACK) !== 0, 'a PING ACK', 1));
            const goaway = peer.frames.find((f) => f.type === FrameType.GOAWAY);
            if (goaway !== undefined) assert.notEqual(goaway.payload.readUInt32BE(4), ErrorCode.INTERNAL_ERROR);
            return;
          }
          const outcome = await peer.waitFor(
            (f) => (f.type === FrameType.PING && (f.flags & Flag.ACK) !== 0 && f.payload.toString() === 'probe!!!') || f.type === FrameType.GOAWAY,
            'a PING ACK or a GOAWAY',
            5000,
          );
          if (outcome.type === FrameType.GOAWAY) {
            const code = outcome.payload.readUInt32BE(4);
            assert.notEqual(code, ErrorCode.INTERNAL_ERROR, `internal error: ${outcome.payload.subarray(8).toString()}`);
            assert.ok(code !== ErrorCode.NO_ERROR, `a GOAWAY for bad input carries an error code, not ${errorName(code)}`);
          }
        } finally {
          peer.close();
        }
      }),
      { numRuns: 150 },
    );
  });
});


describe('engine client under hostile responses', { timeout: 120_000 }, () => {
  const responseStep: fc.Arbitrary<Step> = fc.oneof(
    fc.record({ kind: fc.constant('request' as const), streamId: fc.constantFrom(1, 3), path: fc.constantFrom('200', '103', '204', '500'), endStream: fc.boolean() }),
    arbStep.filter((s) => s.kind === 'frame'),
  );

  it('answers a PING or ends with a protocol GOAWAY, never an internal error', async () => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as net.AddressInfo).port;
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(responseStep, { minLength: 1, maxLength: 10 }), async (steps) => {
          const accepted = new Promise<RawPeer>((resolve) => server.once('connection', (socket) => resolve(RawPeer.accept(socket))));
          const client = await EngineClient.connect(port);
          const peer = await accepted;
          try {
            const get = [':method', 'GET', ':scheme', 'http', ':path', '/', ':authority', 'x'];
            void (await client.request(get)).response;
            void (await client.request(get)).response;
            peer.send(encodeSettingsAck());
            const bytes: Buffer[] = [];
            // 'request' steps here are response heads with the given status.
            for (const step of steps) {
              if (step.kind === 'request') bytes.push(peer.headers(step.streamId, [':status', step.path], step.endStream));
              else bytes.push(encodeFrame(step.type, step.flags, step.streamId, step.payload));
            }
            peer.send(...bytes, encodePing(Buffer.from('probe!!!'), false));
            const saidGoodbye = steps.some((s) => s.kind === 'frame' && s.type === FrameType.GOAWAY && s.streamId === 0 && s.payload.length >= 8);
            if (saidGoodbye) {
              await peer.closed(5000).catch(() => peer.waitFor((f) => f.type === FrameType.PING && (f.flags & Flag.ACK) !== 0, 'a PING ACK', 1));
            } else {
              const outcome = await peer.waitFor(
                (f) => (f.type === FrameType.PING && (f.flags & Flag.ACK) !== 0 && f.payload.toString() === 'probe!!!') || f.type === FrameType.GOAWAY,
                'a PING ACK or a GOAWAY',
                5000,
              );
              if (outcome.type === FrameType.GOAWAY) assert.notEqual(outcome.payload.readUInt32BE(4), ErrorCode.NO_ERROR);
            }
            const goaway = peer.frames.find((f) => f.type === FrameType.GOAWAY);
            if (goaway !== undefined) assert.notEqual(goaway.payload.readUInt32BE(4), ErrorCode.INTERNAL_ERROR, goaway.payload.subarray(8).toString());
          } finally {
            client.conn.close();
            peer.close();
          }
        }),
        { numRuns: 100 },
      );
    } finally {
      server.close();
    }
  });
});
