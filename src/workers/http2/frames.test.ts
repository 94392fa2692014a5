// The frame encoders, checked byte for byte against RFC 9113's layouts and read back by the FrameReader.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FrameReader, type FrameSink } from './frame-reader.ts';
import {
  ErrorCode,
  Flag,
  FrameType,
  SettingId,
  encodeDataHeader,
  encodeFrame,
  encodeGoaway,
  encodeHeaders,
  encodePing,
  encodePriority,
  encodeRstStream,
  encodeSettings,
  encodeSettingsAck,
  encodeWindowUpdate,
  errorName,
} from './frames.ts';

interface Seen {
  type: number;
  flags: number;
  streamId: number;
  payload: Buffer;
}

function readAll(bytes: Buffer, maxFrameSize?: number): Seen[] {
  const seen: Seen[] = [];
  const sink: FrameSink = {
    onFrame: (type, flags, streamId, payload) => seen.push({ type, flags, streamId, payload: Buffer.from(payload) }),
    onFrameError: (code, message) => assert.fail(`unexpected ${errorName(code)}: ${message}`),
  };
  new FrameReader(sink, { expectPreface: false, ...(maxFrameSize !== undefined ? { maxFrameSize } : {}) }).push(bytes);
  return seen;
}

describe('frame encoders', () => {
  it('DATA is a 9-byte header: length, type 0, END_STREAM, stream id', () => {
    assert.deepEqual([...encodeDataHeader(3, 0x012345, true)], [0x01, 0x23, 0x45, 0x00, 0x01, 0, 0, 0, 3]);
    assert.deepEqual([...encodeDataHeader(0x7fffffff, 0, false)], [0, 0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff]);
  });

  it('SETTINGS carries 6 bytes per setting; the ACK is empty with flag 1', () => {
    const frame = encodeSettings([
      [SettingId.MAX_CONCURRENT_STREAMS, 100],
      [SettingId.INITIAL_WINDOW_SIZE, 0x7fffffff],
    ]);
    assert.equal(frame.toString('hex'), '00000c040000000000' + '000300000064' + '00047fffffff');
    assert.equal(encodeSettingsAck().toString('hex'), '000000040100000000');
  });

  it('PING carries 8 bytes and refuses any other size', () => {
    assert.equal(encodePing(Buffer.from('abcdefgh'), true).toString('hex'), '000008060100000000' + Buffer.from('abcdefgh').toString('hex'));
    assert.throws(() => encodePing(Buffer.alloc(7), false), RangeError);
  });

  it('GOAWAY, RST_STREAM, WINDOW_UPDATE and PRIORITY have their fixed layouts', () => {
    assert.equal(encodeGoaway(7, ErrorCode.ENHANCE_YOUR_CALM, 'hi').toString('hex'), '00000a070000000000' + '00000007' + '0000000b' + '6869');
    assert.equal(encodeRstStream(5, ErrorCode.CANCEL).toString('hex'), '000004030000000005' + '00000008');
    assert.equal(encodeWindowUpdate(0, 0x10000).toString('hex'), '000004080000000000' + '00010000');
    assert.equal(encodePriority(3, 1, 16, true).toString('hex'), '000005020000000003' + '80000001' + '0f');
  });

  it('a header block larger than the peer frame size is split into HEADERS + CONTINUATION', () => {
    const block = Buffer.alloc(40_000, 7);
    const frames = readAll(encodeHeaders(9, block, true, 16_384), 16_384);
    assert.deepEqual(
      frames.map((f) => [f.type, f.flags, f.streamId, f.payload.length]),
      [
        [FrameType.HEADERS, Flag.END_STREAM, 9, 16_384],
        [FrameType.CONTINUATION, 0, 9, 16_384],
        [FrameType.CONTINUATION, Flag.END_HEADERS, 9, 40_000 - 2 * 16_384],
      ],
    );
    assert.deepEqual(Buffer.concat(frames.map((f) => f.payload)), block);
  });

  it('a small header block is one HEADERS frame with END_HEADERS', () => {
    const frames = readAll(encodeHeaders(1, Buffer.from([0x82]), false, 16_384));
    assert.deepEqual(frames.map((f) => [f.type, f.flags]), [[FrameType.HEADERS, Flag.END_HEADERS]]);
  });

  it('encodeFrame round-trips any type, flags and stream id through the reader', () => {
    const frame = encodeFrame(0xfa, 0xff & ~Flag.PADDED, 0x12345, Buffer.from('unknown type'));
    const [seen] = readAll(frame);
    assert.deepEqual(seen, { type: 0xfa, flags: 0xff & ~Flag.PADDED, streamId: 0x12345, payload: Buffer.from('unknown type') });
  });

  it('names error codes, and unknown ones in hex', () => {
    assert.equal(errorName(ErrorCode.FLOW_CONTROL_ERROR), 'FLOW_CONTROL_ERROR');
    assert.equal(errorName(0x42), '0x42');
  });
});
