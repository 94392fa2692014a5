// Header compression for the lean HTTP/2 engine, behind one small interface so that the codec can be
// swapped in this file alone. It wraps the project's own HPACK codec (hpack/: static and dynamic tables,
// Huffman); header lists are flat string arrays [name0, value0, name1, value1, ...], no object per field.
// (Until that codec landed, this file wrapped the npm `hpack.js`, which now serves only as a test oracle.)
import { HeaderListTooLargeError, HpackDecoder, HpackEncoder } from './hpack/index.ts';
import { ErrorCode, H2Error } from './frames.ts';

/** Decodes the header blocks one peer sends on one connection (the dynamic table lives as long). */
export class HeaderBlockDecoder {
  private readonly inner: HpackDecoder;

  /**
   * `maxHeaderListSize`: our SETTINGS_MAX_HEADER_LIST_SIZE. A larger list is still decoded (the table
   * must stay in step) but not kept, so a small block that expands hugely costs no memory.
   */
  constructor(maxHeaderListSize: number = Infinity) {
    this.inner = new HpackDecoder({ maxHeaderListSize });
  }

  /**
   * One complete header block → flat [name, value, ...]; null when the list is over the limit (only
   * that stream is refused). Throws H2Error COMPRESSION_ERROR when the block is undecodable, which
   * leaves the table out of step: the connection must end.
   */
  /**
   * Field numbers (field i = list[2i], list[2i + 1]) of the last decoded block that the peer sent never
   * indexed (RFC 7541 §7.1.3): an intermediary passes them on as never indexed too.
   */
  get lastNeverIndexed(): readonly number[] {
    return this.inner.lastNeverIndexed;
  }

  decode(block: Buffer): string[] | null {
    try {
      return this.inner.decode(block);
    } catch (err) {
      if (err instanceof HeaderListTooLargeError) return null;
      throw new H2Error(ErrorCode.COMPRESSION_ERROR, (err as Error).message);
    }
  }
}

/** Encodes the header blocks we send on one connection. */
export class HeaderBlockEncoder {
  private readonly inner = new HpackEncoder();

  /** The peer's SETTINGS_HEADER_TABLE_SIZE: our encoder uses at most that much (RFC 7541 §4.2). */
  setMaxTableSize(size: number): void {
    this.inner.setPeerTableSize(size);
  }

  /**
   * Flat [name, value, ...] (names already lowercase) → one header block, preceded by `headroom` free
   * bytes (room for a frame header, so a block that fits one frame is written without a copy).
   * `neverIndexed`: field numbers to send never indexed (as `lastNeverIndexed` reports them).
   */
  encode(headers: readonly string[], headroom: number = 0, neverIndexed?: readonly number[]): Buffer {
    return this.inner.encode(headers, neverIndexed, headroom);
  }
}
