// HTTP/2 frame layout (RFC 9113 §4, §6): the protocol's constants and an encoder for every frame type the
// lean engine sends. Pure: no I/O, no state. DATA is encoded as its 9-byte header only, so that the payload
// Buffer (usually a subarray of a chunk read from the other side of the proxy) is written after it as is,
// never copied. Everything here allocates exactly one Buffer per call.

/** Frame types (RFC 9113 §6). Plain numbers: they are compared on the hot path. */
export const FrameType = {
  DATA: 0x0,
  HEADERS: 0x1,
  PRIORITY: 0x2,
  RST_STREAM: 0x3,
  SETTINGS: 0x4,
  PUSH_PROMISE: 0x5,
  PING: 0x6,
  GOAWAY: 0x7,
  WINDOW_UPDATE: 0x8,
  CONTINUATION: 0x9,
} as const;

/** Frame flags; ACK and END_STREAM share the bit, each meaningful on its own frame types. */
export const Flag = {
  END_STREAM: 0x1,
  ACK: 0x1,
  END_HEADERS: 0x4,
  PADDED: 0x8,
  PRIORITY: 0x20,
} as const;

/** Error codes (RFC 9113 §7), sent in RST_STREAM and GOAWAY. */
export const ErrorCode = {
  NO_ERROR: 0x0,
  PROTOCOL_ERROR: 0x1,
  INTERNAL_ERROR: 0x2,
  FLOW_CONTROL_ERROR: 0x3,
  SETTINGS_TIMEOUT: 0x4,
  STREAM_CLOSED: 0x5,
  FRAME_SIZE_ERROR: 0x6,
  REFUSED_STREAM: 0x7,
  CANCEL: 0x8,
  COMPRESSION_ERROR: 0x9,
  CONNECT_ERROR: 0xa,
  ENHANCE_YOUR_CALM: 0xb,
  INADEQUATE_SECURITY: 0xc,
  HTTP_1_1_REQUIRED: 0xd,
} as const;

const ERROR_NAMES = Object.fromEntries(Object.entries(ErrorCode).map(([name, code]) => [code, name])) as Record<number, string>;

/** `PROTOCOL_ERROR` for 1; unknown codes (which peers may send, §7) as `0x..`. */
export function errorName(code: number): string {
  return ERROR_NAMES[code] ?? `0x${code.toString(16)}`;
}

/** SETTINGS identifiers (RFC 9113 §6.5.2). */
export const SettingId = {
  HEADER_TABLE_SIZE: 0x1,
  ENABLE_PUSH: 0x2,
  MAX_CONCURRENT_STREAMS: 0x3,
  INITIAL_WINDOW_SIZE: 0x4,
  MAX_FRAME_SIZE: 0x5,
  MAX_HEADER_LIST_SIZE: 0x6,
} as const;

export const FRAME_HEADER_SIZE = 9;
/** The window every stream and the connection start with until SETTINGS say otherwise (§6.9.2). */
export const DEFAULT_WINDOW = 65_535;
/** Windows and increments are 31-bit (§6.9.1). */
export const MAX_WINDOW = 0x7fff_ffff;
/** SETTINGS_MAX_FRAME_SIZE bounds (§6.5.2): the initial value is also the smallest allowed. */
export const DEFAULT_MAX_FRAME_SIZE = 16_384;
export const MAX_MAX_FRAME_SIZE = 0xff_ffff;
export const DEFAULT_HEADER_TABLE_SIZE = 4096;
/** Stream identifiers are 31-bit; a client runs out after 2^30 streams on one connection. */
export const MAX_STREAM_ID = 0x7fff_ffff;

/** What a client sends first (§3.4); a server checks it before any frame. */
export const CLIENT_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** A connection error (GOAWAY) or stream error (RST_STREAM) with its RFC 9113 code. */
export class H2Error extends Error {
  readonly code: number;
  constructor(code: number, message: string) {
    super(`${errorName(code)}: ${message}`);
    this.name = 'H2Error';
    this.code = code;
  }
}

export function writeFrameHeader(target: Buffer, offset: number, length: number, type: number, flags: number, streamId: number): void {
  target[offset] = length >>> 16;
  target[offset + 1] = (length >>> 8) & 0xff;
  target[offset + 2] = length & 0xff;
  target[offset + 3] = type;
  target[offset + 4] = flags;
  target.writeUInt32BE(streamId & MAX_STREAM_ID, offset + 5);
}

/** Any frame with its payload copied behind the header (the generic form; tests use it for raw frames). */
export function encodeFrame(type: number, flags: number, streamId: number, payload: Uint8Array = EMPTY): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER_SIZE + payload.length);
  writeFrameHeader(out, 0, payload.length, type, flags, streamId);
  out.set(payload, FRAME_HEADER_SIZE);
  return out;
}

const EMPTY = Buffer.alloc(0);

/** The 9-byte header of a DATA frame; its `length` payload bytes are written right after it. */
export function encodeDataHeader(streamId: number, length: number, endStream: boolean): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER_SIZE);
  writeFrameHeader(out, 0, length, FrameType.DATA, endStream ? Flag.END_STREAM : 0, streamId);
  return out;
}

/**
 * HEADERS followed by as many CONTINUATION frames as `maxFrameSize` (the peer's SETTINGS_MAX_FRAME_SIZE)
 * requires, in one Buffer so that nothing can be written between them (§6.10).
 */
export function encodeHeaders(streamId: number, block: Uint8Array, endStream: boolean, maxFrameSize: number): Buffer {
  const frames = Math.max(1, Math.ceil(block.length / maxFrameSize));
  const out = Buffer.allocUnsafe(frames * FRAME_HEADER_SIZE + block.length);
  let at = 0;
  for (let i = 0; i < frames; i++) {
    const start = i * maxFrameSize;
    const length = Math.min(maxFrameSize, block.length - start);
    const last = i === frames - 1;
    const type = i === 0 ? FrameType.HEADERS : FrameType.CONTINUATION;
    const flags = (last ? Flag.END_HEADERS : 0) | (i === 0 && endStream ? Flag.END_STREAM : 0);
    writeFrameHeader(out, at, length, type, flags, streamId);
    out.set(block.subarray(start, start + length), at + FRAME_HEADER_SIZE);
    at += FRAME_HEADER_SIZE + length;
  }
  return out;
}

/**
 * HEADERS (+ CONTINUATION) from a block encoded behind FRAME_HEADER_SIZE bytes of headroom: a block that
 * fits one frame gets its header written in place, without a copy.
 */
export function frameHeaderBlock(streamId: number, withHeadroom: Buffer, endStream: boolean, maxFrameSize: number): Buffer {
  const length = withHeadroom.length - FRAME_HEADER_SIZE;
  if (length > maxFrameSize) return encodeHeaders(streamId, withHeadroom.subarray(FRAME_HEADER_SIZE), endStream, maxFrameSize);
  writeFrameHeader(withHeadroom, 0, length, FrameType.HEADERS, Flag.END_HEADERS | (endStream ? Flag.END_STREAM : 0), streamId);
  return withHeadroom;
}

/** SETTINGS from `[id, value]` pairs, in order (§6.5.1). */
export function encodeSettings(settings: ReadonlyArray<readonly [number, number]>): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER_SIZE + 6 * settings.length);
  writeFrameHeader(out, 0, 6 * settings.length, FrameType.SETTINGS, 0, 0);
  let at = FRAME_HEADER_SIZE;
  for (const [id, value] of settings) {
    out.writeUInt16BE(id, at);
    out.writeUInt32BE(value, at + 2);
    at += 6;
  }
  return out;
}

export function encodeSettingsAck(): Buffer {
  return encodeFrame(FrameType.SETTINGS, Flag.ACK, 0);
}

/** PING with its 8 opaque bytes; an ACK echoes the bytes it answers (§6.7). */
export function encodePing(opaque: Uint8Array, ack: boolean): Buffer {
  if (opaque.length !== 8) throw new RangeError('a PING carries exactly 8 bytes');
  return encodeFrame(FrameType.PING, ack ? Flag.ACK : 0, 0, opaque);
}

export function encodeGoaway(lastStreamId: number, code: number, debug: string = ''): Buffer {
  const text = Buffer.from(debug, 'utf8');
  const out = Buffer.allocUnsafe(FRAME_HEADER_SIZE + 8 + text.length);
  writeFrameHeader(out, 0, 8 + text.length, FrameType.GOAWAY, 0, 0);
  out.writeUInt32BE(lastStreamId & MAX_STREAM_ID, FRAME_HEADER_SIZE);
  out.writeUInt32BE(code >>> 0, FRAME_HEADER_SIZE + 4);
  text.copy(out, FRAME_HEADER_SIZE + 8);
  return out;
}

export function encodeRstStream(streamId: number, code: number): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER_SIZE + 4);
  writeFrameHeader(out, 0, 4, FrameType.RST_STREAM, 0, streamId);
  out.writeUInt32BE(code >>> 0, FRAME_HEADER_SIZE);
  return out;
}

export function encodeWindowUpdate(streamId: number, increment: number): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER_SIZE + 4);
  writeFrameHeader(out, 0, 4, FrameType.WINDOW_UPDATE, 0, streamId);
  out.writeUInt32BE(increment & MAX_WINDOW, FRAME_HEADER_SIZE);
  return out;
}

/** PRIORITY is deprecated (RFC 9113 §5.3.2) and ignored on receipt; encoded only so tests can send it. */
export function encodePriority(streamId: number, dependsOn: number, weight: number, exclusive: boolean): Buffer {
  const payload = Buffer.allocUnsafe(5);
  payload.writeUInt32BE(((exclusive ? 0x8000_0000 : 0) | (dependsOn & MAX_STREAM_ID)) >>> 0, 0);
  payload[4] = weight - 1;
  return encodeFrame(FrameType.PRIORITY, 0, streamId, payload);
}
