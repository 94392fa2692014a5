// Header compression for the lean HTTP/2 engine, behind one small interface so that the codec can be
// swapped in this file alone. Today it wraps the npm `hpack.js` (correct, but ~16 µs per decode); the
// project's own HPACK codec (src/workers/http2/hpack/) replaces it here once it lands.
// Header lists are flat string arrays [name0, value0, name1, value1, ...]: no object per field.
import { createRequire } from 'node:module';
import { DEFAULT_HEADER_TABLE_SIZE, ErrorCode, H2Error } from './frames.ts';

interface HpackField {
  name: string;
  value: string;
}
interface HpackStream {
  write(data: unknown): void;
  read(): unknown;
  on(event: 'error', listener: (err: Error) => void): void;
}
interface HpackJs {
  compressor: { create(options: { table: { maxSize: number } }): HpackStream & { updateTableSize(size: number): void } };
  decompressor: { create(options: { table: { maxSize: number } }): HpackStream & { execute(): void } };
}

const hpack = createRequire(import.meta.url)('hpack.js') as HpackJs;

/** Decodes header blocks of one connection (the dynamic table lives as long as the connection). */
export class HeaderBlockDecoder {
  private readonly inner;
  private failure: Error | null = null;

  /** `maxTableSize`: our SETTINGS_HEADER_TABLE_SIZE (what the peer's encoder may use). */
  constructor(maxTableSize: number = DEFAULT_HEADER_TABLE_SIZE) {
    this.inner = hpack.decompressor.create({ table: { maxSize: maxTableSize } });
    this.inner.on('error', (err) => {
      this.failure = err;
    });
  }

  /** One complete header block → flat [name, value, ...]. Throws H2Error COMPRESSION_ERROR on bad input. */
  decode(block: Buffer): string[] {
    if (this.failure !== null) throw new H2Error(ErrorCode.COMPRESSION_ERROR, `header block after a decoding failure: ${this.failure.message}`);
    const out: string[] = [];
    try {
      if (block.length > 0) {
        this.inner.write(block);
        this.inner.execute();
      }
    } catch (err) {
      this.failure = err as Error;
    }
    for (let field = this.inner.read() as HpackField | null; field !== null; field = this.inner.read() as HpackField | null) {
      out.push(field.name, field.value);
    }
    if (this.failure !== null) throw new H2Error(ErrorCode.COMPRESSION_ERROR, `undecodable header block: ${this.failure.message}`);
    return out;
  }
}

/** Encodes header blocks for one connection. */
export class HeaderBlockEncoder {
  private readonly inner;

  constructor() {
    this.inner = hpack.compressor.create({ table: { maxSize: DEFAULT_HEADER_TABLE_SIZE } });
  }

  /** The peer's SETTINGS_HEADER_TABLE_SIZE: our encoder uses at most that much (§6.5.2, RFC 7541 §4.2). */
  setMaxTableSize(size: number): void {
    this.inner.updateTableSize(Math.min(size, DEFAULT_HEADER_TABLE_SIZE));
  }

  /** Flat [name, value, ...] (names already lowercase) → one header block. */
  encode(headers: readonly string[]): Buffer {
    const fields: HpackField[] = [];
    for (let i = 0; i < headers.length; i += 2) fields.push({ name: headers[i]!, value: headers[i + 1]! });
    this.inner.write(fields);
    const chunks: Buffer[] = [];
    for (let chunk = this.inner.read() as Buffer | null; chunk !== null; chunk = this.inner.read() as Buffer | null) chunks.push(chunk);
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
  }
}
