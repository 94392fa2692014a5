// The incremental frame reader: frames come out the same however the byte stream is cut into chunks
// (property test), payloads are subarrays of the chunk when a frame lies within one, padding is stripped,
// oversized frames and a wrong preface are connection errors.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { FrameReader, type FrameSink } from './frame-reader.ts';
import { CLIENT_PREFACE, ErrorCode, Flag, FrameType, encodeFrame } from './frames.ts';

interface Event {
  frame?: [number, number, number, string, number];
  error?: number;
}

function collector(): { sink: FrameSink; events: Event[]; payloads: Buffer[] } {
  const events: Event[] = [];
  const payloads: Buffer[] = [];
  return {
    events,
    payloads,
    sink: {
      onFrame(type, flags, streamId, payload, wireLength) {
        payloads.push(payload);
        events.push({ frame: [type, flags, streamId, payload.toString('hex'), wireLength] });
      },
      onFrameError(code) {
        events.push({ error: code });
      },
    },
  };
}

function split(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let at = 0;
  for (const p of points) {
    chunks.push(bytes.subarray(at, p));
    at = p;
  }
  chunks.push(bytes.subarray(at));
  return chunks;
}

const arbFrame = fc
  .record({
    type: fc.constantFrom(FrameType.DATA, FrameType.HEADERS, FrameType.PING, FrameType.SETTINGS, 0x42),
    flags: fc.integer({ min: 0, max: 0xff }),
    streamId: fc.integer({ min: 0, max: 0x7fffffff }),
    payload: fc.uint8Array({ maxLength: 300 }),
    pad: fc.integer({ min: 0, max: 20 }),
  })
  .map(({ type, flags, streamId, payload, pad }) => {
    if ((flags & Flag.PADDED) === 0 || (type !== FrameType.DATA && type !== FrameType.HEADERS)) return encodeFrame(type, flags, streamId, payload);
    const body = Buffer.concat([Buffer.from([pad]), payload, Buffer.alloc(pad)]);
    return encodeFrame(type, flags, streamId, body);
  });

describe('FrameReader', () => {
  it('yields the same frames for any split of the byte stream (with and without the preface)', () => {
    fc.assert(
      fc.property(fc.array(arbFrame, { maxLength: 12 }), fc.array(fc.nat(), { maxLength: 20 }), fc.boolean(), (frames, cuts, preface) => {
        const bytes = Buffer.concat([preface ? CLIENT_PREFACE : Buffer.alloc(0), ...frames]);
        const whole = collector();
        new FrameReader(whole.sink, { expectPreface: preface }).push(bytes);
        const pieces = collector();
        const reader = new FrameReader(pieces.sink, { expectPreface: preface });
        for (const chunk of split(bytes, cuts)) reader.push(chunk);
        assert.deepEqual(pieces.events, whole.events);
        assert.equal(whole.events.length, frames.length);
        assert.equal(reader.buffered, 0);
      }),
      { numRuns: 300 },
    );
  });

  it('hands out payloads as subarrays of the chunk (no copy) when the frame is inside one chunk', () => {
    const chunk = Buffer.concat([encodeFrame(FrameType.DATA, 0, 1, Buffer.from('hello')), encodeFrame(FrameType.DATA, 0, 1, Buffer.from('world'))]);
    const c = collector();
    new FrameReader(c.sink, { expectPreface: false }).push(chunk);
    assert.equal(c.payloads.length, 2);
    assert.equal(c.payloads[0]!.buffer, chunk.buffer);
    assert.equal(c.payloads[1]!.byteOffset, chunk.byteOffset + 9 + 5 + 9);
  });

  it('strips padding and reports the wire length that flow control counts', () => {
    const frame = encodeFrame(FrameType.DATA, Flag.PADDED | Flag.END_STREAM, 3, Buffer.concat([Buffer.from([4]), Buffer.from('abc'), Buffer.alloc(4)]));
    const c = collector();
    new FrameReader(c.sink, { expectPreface: false }).push(frame);
    assert.deepEqual(c.events, [{ frame: [FrameType.DATA, Flag.PADDED | Flag.END_STREAM, 3, Buffer.from('abc').toString('hex'), 8] }]);
  });

  it('padding as long as the frame is a PROTOCOL_ERROR; a padded frame without a pad length a FRAME_SIZE_ERROR', () => {
    const c = collector();
    new FrameReader(c.sink, { expectPreface: false }).push(encodeFrame(FrameType.HEADERS, Flag.PADDED, 1, Buffer.from([3, 0, 0])));
    assert.deepEqual(c.events, [{ error: ErrorCode.PROTOCOL_ERROR }]);
    const d = collector();
    new FrameReader(d.sink, { expectPreface: false }).push(encodeFrame(FrameType.DATA, Flag.PADDED, 1));
    assert.deepEqual(d.events, [{ error: ErrorCode.FRAME_SIZE_ERROR }]);
  });

  it('refuses a frame above SETTINGS_MAX_FRAME_SIZE from its header alone, and stops', () => {
    const c = collector();
    const reader = new FrameReader(c.sink, { expectPreface: false, maxFrameSize: 16_384 });
    const big = encodeFrame(FrameType.DATA, 0, 1, Buffer.alloc(16_385));
    reader.push(big.subarray(0, 9));
    reader.push(encodeFrame(FrameType.PING, 0, 0, Buffer.alloc(8)));
    assert.deepEqual(c.events, [{ error: ErrorCode.FRAME_SIZE_ERROR }]);
    assert.equal(reader.buffered, 0);
  });

  it('accepts a frame of exactly SETTINGS_MAX_FRAME_SIZE', () => {
    const c = collector();
    new FrameReader(c.sink, { expectPreface: false }).push(encodeFrame(FrameType.DATA, 0, 1, Buffer.alloc(16_384)));
    assert.equal(c.events.length, 1);
  });

  it('checks the client preface byte by byte, across chunks', () => {
    const c = collector();
    const reader = new FrameReader(c.sink, { expectPreface: true });
    reader.push(CLIENT_PREFACE.subarray(0, 10));
    reader.push(Buffer.from('GET / HTTP/1.1\r\n'));
    assert.deepEqual(c.events, [{ error: ErrorCode.PROTOCOL_ERROR }]);
    const ok = collector();
    const good = new FrameReader(ok.sink, { expectPreface: true });
    for (const byte of Buffer.concat([CLIENT_PREFACE, encodeFrame(FrameType.SETTINGS, 0, 0)])) good.push(Buffer.from([byte]));
    assert.deepEqual(ok.events, [{ frame: [FrameType.SETTINGS, 0, 0, '', 0] }]);
  });

  it('stop() drops everything that follows', () => {
    const c = collector();
    const reader = new FrameReader(c.sink, { expectPreface: false });
    reader.stop();
    reader.push(encodeFrame(FrameType.PING, 0, 0, Buffer.alloc(8)));
    assert.deepEqual(c.events, []);
  });
});
