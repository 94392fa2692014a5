// gRPC's length-prefixed messages on an HTTP/2 stream (PROTOCOL-HTTP2.md "Length-Prefixed-Message"): a
// flag byte (compressed or not), a 4-byte big-endian length, the message. DATA frames cut across them
// freely, so messages are reassembled here, and a message larger than our limit is refused from its
// prefix alone, before any of it is buffered. We never offer compression, so a compressed message is
// a protocol error. Pure.
import { Status, type GrpcStatus } from './status.ts';

export const PREFIX_SIZE = 5;

/** gRPC's usual receive limit (grpc-go, grpc-js): a Destination update of 10,000 endpoints is ~0.3 MB. */
export const DEFAULT_MAX_MESSAGE_BYTES = 4 << 20;

/** A message framed for the wire: the 5-byte prefix, then the bytes. */
export function frameMessage(message: Buffer): Buffer {
  const out = Buffer.allocUnsafe(PREFIX_SIZE + message.length);
  out[0] = 0;
  out.writeUInt32BE(message.length, 1);
  message.copy(out, PREFIX_SIZE);
  return out;
}

export class FramingError extends Error {
  override name = 'FramingError';
  readonly status: GrpcStatus;

  constructor(code: number, details: string) {
    super(details);
    this.status = { code, details };
  }
}

/** Reassembles the messages of one stream from its DATA payloads. */
export class MessageAssembler {
  private readonly maxBytes: number;
  private readonly prefix = Buffer.alloc(PREFIX_SIZE);
  private prefixFill = 0;
  /** The message being filled, once its prefix is known. */
  private body: Buffer | undefined;
  private bodyFill = 0;

  constructor(maxBytes: number = DEFAULT_MAX_MESSAGE_BYTES) {
    this.maxBytes = maxBytes;
  }

  /** Whether a message has started and not ended (at the end of the stream: a truncated message). */
  get partial(): boolean {
    return this.prefixFill > 0;
  }

  /**
   * Feeds one DATA payload; `onMessage` gets each message it completes, in order (a view valid during
   * the call). Throws FramingError on a compressed or oversized message.
   */
  push(chunk: Buffer, onMessage: (message: Buffer) => void): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.prefixFill < PREFIX_SIZE) {
        // Fast path: a whole message inside this chunk needs no copy.
        if (this.prefixFill === 0 && chunk.length - at >= PREFIX_SIZE) {
          const length = this.check(chunk, at);
          if (chunk.length - at - PREFIX_SIZE >= length) {
            onMessage(chunk.subarray(at + PREFIX_SIZE, at + PREFIX_SIZE + length));
            at += PREFIX_SIZE + length;
            continue;
          }
        }
        const n = Math.min(PREFIX_SIZE - this.prefixFill, chunk.length - at);
        chunk.copy(this.prefix, this.prefixFill, at, at + n);
        this.prefixFill += n;
        at += n;
        if (this.prefixFill < PREFIX_SIZE) return;
        const length = this.check(this.prefix, 0);
        if (length === 0) {
          this.prefixFill = 0;
          onMessage(Buffer.alloc(0));
          continue;
        }
        this.body = Buffer.allocUnsafe(length);
        this.bodyFill = 0;
      }
      const body = this.body as Buffer;
      const n = Math.min(body.length - this.bodyFill, chunk.length - at);
      chunk.copy(body, this.bodyFill, at, at + n);
      this.bodyFill += n;
      at += n;
      if (this.bodyFill === body.length) {
        this.prefixFill = 0;
        this.body = undefined;
        onMessage(body);
      }
    }
  }

  /** The length in a prefix at `at`, once its flag and size are acceptable. */
  private check(bytes: Buffer, at: number): number {
    if (((bytes[at] as number) & 1) !== 0) throw new FramingError(Status.INTERNAL, 'compressed message, but no compression was negotiated');
    const length = bytes.readUInt32BE(at + 1);
    if (length > this.maxBytes) throw new FramingError(Status.RESOURCE_EXHAUSTED, `message of ${length} bytes exceeds the limit of ${this.maxBytes}`);
    return length;
  }
}
