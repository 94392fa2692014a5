// Undoes chunked transfer coding (RFC 9112 §7.1) where a body leaves HTTP/1 for a protocol that frames
// bodies itself (the mesh hop's HTTP/2, proxy/orig-proto/): the payload comes out as subarrays of the
// input, never copied; chunk extensions are skipped; the trailer section is kept as text. Pure state
// machine fed whatever pieces the socket delivers.

const CR = 13;
const LF = 10;

const S_SIZE = 0;
const S_EXT = 1;
const S_SIZE_LF = 2;
const S_DATA = 3;
const S_DATA_CR = 4;
const S_DATA_LF = 5;
const S_LINE_START = 6;
const S_TRAILER = 7;
const S_END_LF = 8;
const S_DONE = 9;

/** A trailer section larger than this is refused (as node:http bounds a head). */
const MAX_TRAILERS = 16 * 1024;

export const CHUNKED_MORE = -1;
export const CHUNKED_BAD = -2;

export class ChunkedDecoder {
  private state = S_SIZE;
  private remaining = 0;
  private digits = 0;
  /** The trailer section's lines (without the final blank line), CRLF-separated; '' when none. */
  trailers = '';

  reset(): void {
    this.state = S_SIZE;
    this.remaining = 0;
    this.digits = 0;
    this.trailers = '';
  }

  get done(): boolean {
    return this.state === S_DONE;
  }

  /**
   * Decodes buf[start, end): payload pieces are pushed to `out`; returns the offset just past the body's
   * end when it ends here, CHUNKED_MORE when it continues, CHUNKED_BAD when the framing is malformed.
   */
  decode(buf: Buffer, start: number, end: number, out: Buffer[]): number {
    let i = start;
    while (i < end) {
      const c = buf[i] as number;
      switch (this.state) {
        case S_DATA: {
          const take = Math.min(this.remaining, end - i);
          out.push(buf.subarray(i, i + take));
          i += take;
          this.remaining -= take;
          if (this.remaining === 0) this.state = S_DATA_CR;
          continue;
        }
        case S_SIZE: {
          const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
          if (d >= 0) {
            if (++this.digits > 13) return CHUNKED_BAD;
            this.remaining = this.remaining * 16 + d;
          } else if (this.digits === 0) {
            return CHUNKED_BAD;
          } else if (c === CR) {
            this.state = S_SIZE_LF;
          } else if (c === 59 /* ; */ || c === 32 || c === 9) {
            this.state = S_EXT;
          } else {
            return CHUNKED_BAD;
          }
          break;
        }
        case S_EXT:
          if (c === CR) this.state = S_SIZE_LF;
          else if (c === LF) return CHUNKED_BAD;
          break;
        case S_SIZE_LF:
          if (c !== LF) return CHUNKED_BAD;
          this.digits = 0;
          this.state = this.remaining === 0 ? S_LINE_START : S_DATA;
          break;
        case S_DATA_CR:
          if (c !== CR) return CHUNKED_BAD;
          this.state = S_DATA_LF;
          break;
        case S_DATA_LF:
          if (c !== LF) return CHUNKED_BAD;
          this.state = S_SIZE;
          break;
        case S_LINE_START:
          if (c === CR) {
            this.state = S_END_LF;
            break;
          }
          this.state = S_TRAILER;
          continue; // the line is read from its first byte

        case S_TRAILER: {
          const lf = buf.indexOf(LF, i);
          const stop = lf < 0 || lf >= end ? end : lf;
          this.trailers += buf.toString('latin1', i, stop + (stop === lf ? 1 : 0));
          if (this.trailers.length > MAX_TRAILERS) return CHUNKED_BAD;
          i = stop + (stop === lf ? 1 : 0);
          if (stop === lf) this.state = S_LINE_START;
          continue;
        }
        case S_END_LF:
          if (c !== LF) return CHUNKED_BAD;
          this.state = S_DONE;
          if (this.trailers.endsWith('\r\n')) this.trailers = this.trailers.slice(0, -2);
          return i + 1;
        default:
          return i; // S_DONE: what follows is not this body's
      }
      i++;
    }
    return CHUNKED_MORE;
  }
}
