// gRPC length-prefixed message framing and the tiny fixed messages the benchmark sends.

/** Wraps a message in gRPC framing: 1 byte compressed flag (0), 4 bytes big-endian length, message. */
export function grpcFrame(message: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(5 + message.length);
  out[0] = 0;
  out.writeUInt32BE(message.length, 1);
  out.set(message, 5);
  return out;
}

/** Protobuf encoding of `{ 1: <text> }` (field 1, wire type 2), for texts shorter than 128 bytes. */
export function protoString1(text: string): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length > 127) throw new Error('protoString1: text too long for a one-byte length');
  return Buffer.concat([Buffer.from([0x0a, bytes.length]), bytes]);
}

/** Splits a buffer of whole gRPC frames into messages; throws on a truncated frame. */
export function grpcUnframe(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let off = 0;
  while (off < buf.length) {
    if (off + 5 > buf.length) throw new Error('truncated gRPC frame header');
    const len = buf.readUInt32BE(off + 1);
    if (off + 5 + len > buf.length) throw new Error('truncated gRPC message');
    out.push(buf.subarray(off + 5, off + 5 + len));
    off += 5 + len;
  }
  return out;
}

/** The unary method every gRPC run calls, its request and its response. */
export const GRPC_PATH = '/sluice.perf.Echo/Unary';
export const GRPC_REQUEST = grpcFrame(protoString1('ping'));
export const GRPC_RESPONSE = grpcFrame(protoString1('pong'));
