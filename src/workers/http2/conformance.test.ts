// RFC 9113 as a strict server applies it, asserted on the wire: a raw peer writes hand-made frames over a
// real TCP socket to the engine (server role, echo handler) and checks the GOAWAY or RST_STREAM code it
// answers with — connection errors for what breaks the connection, stream errors for what breaks a stream.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ErrorCode, Flag, FrameType, SettingId, encodeFrame, encodePing, encodePriority, encodeRstStream, encodeSettings, encodeWindowUpdate, errorName } from './frames.ts';
import { startEchoServer, type EngineServer } from '../../../test/support/h2-engine.ts';
import { RawPeer } from '../../../test/support/h2-raw.ts';

const { NO_ERROR, CANCEL } = ErrorCode;

let server: EngineServer;
const peers: RawPeer[] = [];

async function peer(settings: Array<[number, number]> = []): Promise<RawPeer> {
  const p = await RawPeer.connect(server.port, settings);
  p.ackSettings();
  peers.push(p);
  return p;
}

/** The connection error the engine answers `frames` with (GOAWAY code), and that it then closes. */
async function connectionError(frames: Buffer[], settings: Array<[number, number]> = []): Promise<string> {
  const p = await peer(settings);
  p.send(...frames);
  const [, code] = await p.goaway();
  await p.closed();
  return errorName(code);
}

/** The stream error (RST_STREAM code) on `streamId`, and that the connection lives on (PING answered). */
async function streamError(streamId: number, frames: Buffer[], settings: Array<[number, number]> = []): Promise<string> {
  const p = await peer(settings);
  p.send(...frames);
  const code = await p.rst(streamId);
  p.send(encodePing(Buffer.from('alive?!!'), false));
  await p.waitFor((f) => f.type === FrameType.PING && (f.flags & Flag.ACK) !== 0, 'PING ACK');
  assert.equal(p.frames.find((f) => f.type === FrameType.GOAWAY), undefined, 'no GOAWAY after a stream error');
  return errorName(code);
}

const frame = encodeFrame;
const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};
/** A raw peer's request that stays open: the client advertises window 0, so no response DATA can flow. */
const NO_WINDOW: Array<[number, number]> = [[SettingId.INITIAL_WINDOW_SIZE, 0]];

before(async () => {
  server = await startEchoServer();
});
after(async () => {
  for (const p of peers) p.close();
  await server.close();
});

describe('connection preface and SETTINGS', () => {
  it('answers SETTINGS with an ACK and sends its own SETTINGS and a connection WINDOW_UPDATE first', async () => {
    const p = await peer();
    await p.waitFor((f) => f.type === FrameType.SETTINGS && f.flags === Flag.ACK, 'SETTINGS ACK');
    assert.equal(p.frames[0]!.type, FrameType.SETTINGS);
    assert.equal(p.frames[1]!.type, FrameType.WINDOW_UPDATE);
    assert.equal(p.frames[1]!.streamId, 0);
  });

  it('a wrong preface is a PROTOCOL_ERROR', async () => {
    const p = await RawPeer.connect(server.port, [], { preface: false });
    peers.push(p);
    p.send(Buffer.from('PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n'));
    assert.equal(errorName((await p.goaway())[1]), 'PROTOCOL_ERROR');
  });

  it('SETTINGS on a stream, of a length not a multiple of 6, or an ACK with payload', async () => {
    assert.equal(await connectionError([frame(FrameType.SETTINGS, 0, 1)]), 'PROTOCOL_ERROR');
    assert.equal(await connectionError([frame(FrameType.SETTINGS, 0, 0, Buffer.alloc(5))]), 'FRAME_SIZE_ERROR');
    assert.equal(await connectionError([frame(FrameType.SETTINGS, Flag.ACK, 0, Buffer.alloc(6))]), 'FRAME_SIZE_ERROR');
  });

  it('validates values: ENABLE_PUSH 0/1, INITIAL_WINDOW_SIZE ≤ 2^31-1, MAX_FRAME_SIZE in [2^14, 2^24-1]', async () => {
    assert.equal(await connectionError([encodeSettings([[SettingId.ENABLE_PUSH, 2]])]), 'PROTOCOL_ERROR');
    assert.equal(await connectionError([encodeSettings([[SettingId.INITIAL_WINDOW_SIZE, 0x80000000]])]), 'FLOW_CONTROL_ERROR');
    assert.equal(await connectionError([encodeSettings([[SettingId.MAX_FRAME_SIZE, 16_383]])]), 'PROTOCOL_ERROR');
    assert.equal(await connectionError([encodeSettings([[SettingId.MAX_FRAME_SIZE, 1 << 24]])]), 'PROTOCOL_ERROR');
  });

  it('ignores unknown settings and unknown frame types', async () => {
    const p = await peer();
    p.send(encodeSettings([[0x99, 7]]), frame(0xee, 0, 0, Buffer.from('x')), frame(0xee, 0, 3, Buffer.from('y')), p.get(1));
    await p.waitFor((f) => f.streamId === 1 && (f.flags & Flag.END_STREAM) !== 0, 'the response');
    assert.equal(p.frames.find((f) => f.type === FrameType.GOAWAY), undefined);
  });
});

describe('frames on stream 0 and frame sizes', () => {
  it('DATA, HEADERS, PRIORITY, RST_STREAM, CONTINUATION on stream 0 are PROTOCOL_ERRORs', async () => {
    assert.equal(await connectionError([frame(FrameType.DATA, 0, 0, Buffer.from('x'))]), 'PROTOCOL_ERROR');
    assert.equal(await connectionError([frame(FrameType.HEADERS, Flag.END_HEADERS, 0, Buffer.from([0x82]))]), 'PROTOCOL_ERROR');
    assert.equal(await connectionError([encodePriority(0, 1, 16, false)]), 'PROTOCOL_ERROR');
    assert.equal(await connectionError([encodeRstStream(0, CANCEL)]), 'PROTOCOL_ERROR');
    assert.equal(await connectionError([frame(FrameType.CONTINUATION, Flag.END_HEADERS, 0)]), 'PROTOCOL_ERROR');
  });

  it('PING and GOAWAY on a stream are PROTOCOL_ERRORs', async () => {
    assert.equal(await connectionError([frame(FrameType.PING, 0, 1, Buffer.alloc(8))]), 'PROTOCOL_ERROR');
    assert.equal(await connectionError([frame(FrameType.GOAWAY, 0, 1, Buffer.alloc(8))]), 'PROTOCOL_ERROR');
  });

  it('PING, WINDOW_UPDATE and RST_STREAM of the wrong length are FRAME_SIZE_ERRORs; PRIORITY a stream one', async () => {
    assert.equal(await connectionError([frame(FrameType.PING, 0, 0, Buffer.alloc(7))]), 'FRAME_SIZE_ERROR');
    assert.equal(await connectionError([frame(FrameType.WINDOW_UPDATE, 0, 0, Buffer.alloc(3))]), 'FRAME_SIZE_ERROR');
    const p = await peer(NO_WINDOW);
    p.send(p.get(1, '/echo', false));
    await p.responseHead(1);
    p.send(frame(FrameType.RST_STREAM, 0, 1, Buffer.alloc(3)));
    assert.equal(errorName((await p.goaway())[1]), 'FRAME_SIZE_ERROR');
    assert.equal(await streamError(3, [frame(FrameType.PRIORITY, 0, 3, Buffer.alloc(4))]), 'FRAME_SIZE_ERROR');
  });

  it('a frame larger than our SETTINGS_MAX_FRAME_SIZE is a FRAME_SIZE_ERROR', async () => {
    assert.equal(await connectionError([frame(FrameType.DATA, 0, 1, Buffer.alloc(16_385))]), 'FRAME_SIZE_ERROR');
  });

  it('PUSH_PROMISE from a client is a PROTOCOL_ERROR', async () => {
    assert.equal(await connectionError([frame(FrameType.PUSH_PROMISE, Flag.END_HEADERS, 1, Buffer.alloc(4))]), 'PROTOCOL_ERROR');
  });
});

describe('PING', () => {
  it('is answered with an ACK carrying the same bytes; an ACK is never answered', async () => {
    const p = await peer();
    p.send(encodePing(Buffer.from('12345678'), true), encodePing(Buffer.from('abcdefgh'), false));
    const ack = await p.waitFor((f) => f.type === FrameType.PING, 'PING ACK');
    assert.equal(ack.flags, Flag.ACK);
    assert.equal(ack.payload.toString(), 'abcdefgh');
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(p.frames.filter((f) => f.type === FrameType.PING).length, 1);
  });
});

describe('stream states (§5.1)', () => {
  it('DATA, RST_STREAM or WINDOW_UPDATE on an idle stream is a PROTOCOL_ERROR', async () => {
    assert.equal(await connectionError([frame(FrameType.DATA, 0, 1, Buffer.from('x'))]), 'PROTOCOL_ERROR');
    assert.equal(await connectionError([encodeRstStream(1, CANCEL)]), 'PROTOCOL_ERROR');
    assert.equal(await connectionError([encodeWindowUpdate(1, 1)]), 'PROTOCOL_ERROR');
  });

  it('PRIORITY on an idle stream is fine and opens nothing', async () => {
    const p = await peer();
    p.send(encodePriority(5, 3, 16, false), p.get(1));
    await p.waitFor((f) => f.streamId === 1 && (f.flags & Flag.END_STREAM) !== 0, 'the response');
    assert.equal(p.frames.find((f) => f.type === FrameType.GOAWAY || f.type === FrameType.RST_STREAM), undefined);
  });

  it('a stream id that is even, or not above the last one, is a PROTOCOL_ERROR', async () => {
    const p = await peer();
    assert.equal(await connectionError([p.get(2)]), 'PROTOCOL_ERROR');
    const q = await peer();
    assert.equal(await connectionError([q.get(5), q.get(3)]), 'PROTOCOL_ERROR');
  });

  it('DATA or HEADERS after the client ended its side (half-closed remote) is STREAM_CLOSED', async () => {
    const p = await peer(NO_WINDOW);
    assert.equal(await streamError(1, [p.get(1, '/size/10', true), frame(FrameType.DATA, 0, 1, Buffer.from('late'))], NO_WINDOW), 'STREAM_CLOSED');
  });

  it('HEADERS on a stream that closed normally is STREAM_CLOSED; DATA there is a stream error STREAM_CLOSED', async () => {
    const p = await peer();
    p.send(p.get(1));
    await p.waitFor((f) => f.streamId === 1 && (f.flags & Flag.END_STREAM) !== 0, 'the response');
    p.send(frame(FrameType.DATA, 0, 1, Buffer.from('late')));
    assert.equal(errorName(await p.rst(1)), 'STREAM_CLOSED');
    p.send(p.get(1));
    assert.equal(errorName((await p.goaway())[1]), 'STREAM_CLOSED');
  });

  it('frames in flight after our RST_STREAM are ignored; RST_STREAM and WINDOW_UPDATE on closed streams too', async () => {
    const p = await peer();
    p.send(p.get(1, '/reset', false));
    assert.equal(errorName(await p.rst(1)), 'CANCEL');
    p.send(frame(FrameType.DATA, 0, 1, Buffer.from('in flight')), encodeWindowUpdate(1, 10), encodeRstStream(1, CANCEL), encodePing(Buffer.alloc(8), false));
    await p.waitFor((f) => f.type === FrameType.PING, 'PING ACK');
    assert.equal(p.frames.filter((f) => f.type === FrameType.RST_STREAM).length, 1);
    assert.equal(p.frames.find((f) => f.type === FrameType.GOAWAY), undefined);
  });

  it('a stream depending on itself is a stream PROTOCOL_ERROR (PRIORITY or HEADERS)', async () => {
    assert.equal(await streamError(3, [encodePriority(3, 3, 16, false)]), 'PROTOCOL_ERROR');
    const p = await peer();
    const head = p.get(1);
    // Rebuild the HEADERS with the PRIORITY flag and fields naming stream 1 itself.
    const block = head.subarray(9);
    p.send(frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM | Flag.PRIORITY, 1, Buffer.concat([u32(1), Buffer.from([15]), block])));
    assert.equal(errorName(await p.rst(1)), 'PROTOCOL_ERROR');
  });
});

describe('header blocks (§4.3, §6.10)', () => {
  it('any frame between HEADERS and its CONTINUATION is a PROTOCOL_ERROR', async () => {
    const p = await peer();
    const head = p.get(1).subarray(9);
    assert.equal(await connectionError([frame(FrameType.HEADERS, Flag.END_STREAM, 1, head.subarray(0, 2)), encodePing(Buffer.alloc(8), false)]), 'PROTOCOL_ERROR');
  });

  it('CONTINUATION on another stream, or without HEADERS, is a PROTOCOL_ERROR', async () => {
    const p = await peer();
    const head = p.get(1).subarray(9);
    assert.equal(
      await connectionError([frame(FrameType.HEADERS, Flag.END_STREAM, 1, head.subarray(0, 2)), frame(FrameType.CONTINUATION, Flag.END_HEADERS, 3, head.subarray(2))]),
      'PROTOCOL_ERROR',
    );
    assert.equal(await connectionError([frame(FrameType.CONTINUATION, Flag.END_HEADERS, 1, Buffer.from([0x82]))]), 'PROTOCOL_ERROR');
  });

  it('a header block split over CONTINUATION frames is served', async () => {
    const p = await peer();
    const head = p.headers(1, [':method', 'GET', ':scheme', 'http', ':path', '/echo', ':authority', 'x', 'x-long', 'v'.repeat(40_000)], true);
    p.send(head);
    const response = await p.responseHead(1);
    assert.equal(response[1], '200');
  });

  it('an undecodable header block is a COMPRESSION_ERROR', async () => {
    // Index 70 does not exist in an empty dynamic table.
    assert.equal(await connectionError([frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, 1, Buffer.from([0xc6]))]), 'COMPRESSION_ERROR');
  });
});

describe('message validity (§8) → stream PROTOCOL_ERROR', () => {
  const base = [':method', 'GET', ':scheme', 'http', ':path', '/echo', ':authority', 'x'];
  const cases: Array<[string, string[]]> = [
    ['an uppercase field name', [...base, 'X-Upper', '1']],
    ['a connection-specific field', [...base, 'connection', 'keep-alive']],
    ['transfer-encoding', [...base, 'transfer-encoding', 'chunked']],
    ['te other than trailers', [...base, 'te', 'gzip']],
    ['no :path', [':method', 'GET', ':scheme', 'http', ':authority', 'x']],
    ['no :method', [':scheme', 'http', ':path', '/', ':authority', 'x']],
    ['an undefined pseudo-header', [...base, ':foo', 'bar']],
    ['a response pseudo-header in a request', [':status', '200', ...base]],
    ['a pseudo-header after a regular field', [':method', 'GET', ':scheme', 'http', 'x-a', '1', ':path', '/']],
    ['a duplicated :path', [...base.slice(0, 6), ':path', '/again', ':authority', 'x']],
    ['an empty :path', [':method', 'GET', ':scheme', 'http', ':path', '', ':authority', 'x']],
    ['a value with a newline', [...base, 'x-a', 'one\ntwo']],
  ];
  for (const [what, headers] of cases) {
    it(`a request with ${what}`, async () => {
      const p = await peer();
      assert.equal(await streamError(1, [p.headers(1, headers, true)]), 'PROTOCOL_ERROR');
    });
  }

  it('te: trailers is allowed', async () => {
    const p = await peer();
    p.send(p.headers(1, [...base, 'te', 'trailers'], true));
    assert.equal((await p.responseHead(1))[1], '200');
  });

  it('pseudo-headers in trailers, or trailers without END_STREAM', async () => {
    const p = await peer();
    assert.equal(await streamError(1, [p.headers(1, base, false), p.headers(1, [':path', '/x'], true)]), 'PROTOCOL_ERROR');
    const q = await peer();
    assert.equal(await streamError(1, [q.headers(1, base, false), q.headers(1, ['x-t', '1'], false)]), 'PROTOCOL_ERROR');
  });

  it('DATA that does not add up to content-length, short or long', async () => {
    const p = await peer();
    const head = p.headers(1, [':method', 'POST', ':scheme', 'http', ':path', '/echo', ':authority', 'x', 'content-length', '5'], false);
    assert.equal(await streamError(1, [head, frame(FrameType.DATA, Flag.END_STREAM, 1, Buffer.from('abc'))]), 'PROTOCOL_ERROR');
    const q = await peer();
    const head2 = q.headers(1, [':method', 'POST', ':scheme', 'http', ':path', '/echo', ':authority', 'x', 'content-length', '2'], false);
    assert.equal(await streamError(1, [head2, frame(FrameType.DATA, 0, 1, Buffer.from('abc'))]), 'PROTOCOL_ERROR');
  });
});

describe('flow control (§6.9)', () => {
  it('a WINDOW_UPDATE of 0 is a PROTOCOL_ERROR: connection-wide on stream 0, a stream error on a stream', async () => {
    assert.equal(await connectionError([encodeWindowUpdate(0, 0)]), 'PROTOCOL_ERROR');
    const p = await peer(NO_WINDOW);
    assert.equal(await streamError(1, [p.get(1, '/echo', false), encodeWindowUpdate(1, 0)], NO_WINDOW), 'PROTOCOL_ERROR');
  });

  it('a window above 2^31-1 is a FLOW_CONTROL_ERROR: connection or stream', async () => {
    assert.equal(await connectionError([encodeWindowUpdate(0, 0x7fffffff)]), 'FLOW_CONTROL_ERROR');
    const p = await peer();
    assert.equal(await streamError(1, [p.get(1, '/echo', false), encodeWindowUpdate(1, 0x7fffffff)]), 'FLOW_CONTROL_ERROR');
  });

  it('SETTINGS_INITIAL_WINDOW_SIZE that takes an open stream above 2^31-1 is a FLOW_CONTROL_ERROR', async () => {
    const p = await peer();
    p.send(p.get(1, '/echo', false));
    await p.responseHead(1);
    p.send(encodeWindowUpdate(1, 0x7fffffff - 65_535), encodeSettings([[SettingId.INITIAL_WINDOW_SIZE, 65_536]]));
    assert.equal(errorName((await p.goaway())[1]), 'FLOW_CONTROL_ERROR');
  });

  it('DATA beyond a stream window is a stream FLOW_CONTROL_ERROR; beyond the connection window a connection one', async () => {
    const small = await startEchoServer({ streamWindow: 1000, connectionWindow: 65_535 });
    try {
      const p = await RawPeer.connect(small.port);
      peers.push(p);
      p.ackSettings();
      // Wait for our ACK to be applied: the server's SETTINGS ACK of ours shows it read our frames.
      await p.waitFor((f) => f.type === FrameType.SETTINGS && f.flags === Flag.ACK, 'SETTINGS ACK');
      p.send(p.headers(1, [':method', 'POST', ':scheme', 'http', ':path', '/size/0', ':authority', 'x'], false), frame(FrameType.DATA, 0, 1, Buffer.alloc(1001)));
      assert.equal(errorName(await p.rst(1)), 'FLOW_CONTROL_ERROR');
      const big = Array.from({ length: 5 }, (_, i) => frame(FrameType.DATA, 0, 3, Buffer.alloc(16_000 + i)));
      // An echo that cannot answer (window 0) consumes nothing, so nothing is refunded.
      const q = await RawPeer.connect(small.port, NO_WINDOW);
      peers.push(q);
      q.send(q.headers(3, [':method', 'POST', ':scheme', 'http', ':path', '/echo', ':authority', 'x'], false), ...big);
      assert.equal(errorName((await q.goaway())[1]), 'FLOW_CONTROL_ERROR');
    } finally {
      await small.close();
    }
  });
});

describe('GOAWAY', () => {
  it('a graceful drain sends GOAWAY(2^31-1) and a PING, then the real last stream id; in-flight streams finish', async () => {
    const p = await peer();
    p.send(p.headers(1, [':method', 'POST', ':scheme', 'http', ':path', '/echo', ':authority', 'x'], false));
    await p.responseHead(1);
    const engine = server.connections.at(-1)!.conn;
    engine.goaway(NO_ERROR, true);
    const first = await p.waitFor((f) => f.type === FrameType.GOAWAY, 'first GOAWAY');
    assert.equal(first.payload.readUInt32BE(0), 0x7fffffff);
    const ping = await p.waitFor((f) => f.type === FrameType.PING && f.flags === 0, 'drain PING');
    // A request that crossed the first GOAWAY is still served.
    p.send(p.get(3), encodePing(ping.payload, true));
    const second = await p.waitFor((f) => f.type === FrameType.GOAWAY && f !== first, 'second GOAWAY');
    assert.deepEqual([second.payload.readUInt32BE(0), second.payload.readUInt32BE(4)], [3, NO_ERROR]);
    // Stream 5 came after the final GOAWAY: ignored. Stream 1 still completes, then the connection closes.
    p.send(p.get(5), frame(FrameType.DATA, Flag.END_STREAM, 1, Buffer.from('bye')));
    await p.waitFor((f) => f.type === FrameType.DATA && f.streamId === 1 && (f.flags & Flag.END_STREAM) !== 0, 'end of stream 1');
    await p.closed();
    assert.equal(p.frames.find((f) => f.streamId === 5), undefined);
    assert.ok(p.frames.some((f) => f.type === FrameType.HEADERS && f.streamId === 3));
  });
});
