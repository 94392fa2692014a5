// Minimal HTTP/1.1 response parser for the open-loop generator: finds the end of each response by
// Content-Length (or chunked encoding), reports its status, and ignores everything else.

const CRLFCRLF = Buffer.from('\r\n\r\n');
const CRLF = Buffer.from('\r\n');

export interface ParsedResponse {
  status: number;
  /** The server said `Connection: close`. */
  close: boolean;
}

type State = 'head' | 'body' | 'chunk-size' | 'chunk-data' | 'chunk-crlf' | 'trailers';

export class H1ResponseParser {
  private state: State = 'head';
  private pending: Buffer | null = null;
  private remaining = 0;
  private current: ParsedResponse = { status: 0, close: false };
  /** Set once the byte stream cannot be parsed; the connection should be dropped. */
  error: string | null = null;

  /** Feeds bytes; returns the responses completed by them, in order. */
  feed(chunk: Buffer): ParsedResponse[] {
    const done: ParsedResponse[] = [];
    const buf = this.pending === null ? chunk : Buffer.concat([this.pending, chunk]);
    this.pending = null;
    let off = 0;
    while (off < buf.length && this.error === null) {
      switch (this.state) {
        case 'head': {
          const end = buf.indexOf(CRLFCRLF, off);
          if (end < 0) {
            this.pending = buf.subarray(off);
            return done;
          }
          this.parseHead(buf.toString('latin1', off, end));
          off = end + 4;
          if (this.state === 'head') done.push(this.current);
          break;
        }
        case 'body': {
          const take = Math.min(this.remaining, buf.length - off);
          off += take;
          this.remaining -= take;
          if (this.remaining === 0) {
            this.state = 'head';
            done.push(this.current);
          }
          break;
        }
        case 'chunk-size': {
          const end = buf.indexOf(CRLF, off);
          if (end < 0) {
            this.pending = buf.subarray(off);
            return done;
          }
          const line = buf.toString('latin1', off, end);
          const size = parseInt(line.split(';')[0] ?? '', 16);
          if (!Number.isFinite(size) || size < 0) {
            this.error = `bad chunk size line: ${JSON.stringify(line)}`;
            break;
          }
          off = end + 2;
          if (size === 0) this.state = 'trailers';
          else {
            this.remaining = size;
            this.state = 'chunk-data';
          }
          break;
        }
        case 'chunk-data': {
          const take = Math.min(this.remaining, buf.length - off);
          off += take;
          this.remaining -= take;
          if (this.remaining === 0) {
            this.state = 'chunk-crlf';
            this.remaining = 2;
          }
          break;
        }
        case 'chunk-crlf': {
          const take = Math.min(this.remaining, buf.length - off);
          off += take;
          this.remaining -= take;
          if (this.remaining === 0) this.state = 'chunk-size';
          break;
        }
        case 'trailers': {
          // Trailer lines until an empty line.
          const end = buf.indexOf(CRLF, off);
          if (end < 0) {
            this.pending = buf.subarray(off);
            return done;
          }
          const empty = end === off;
          off = end + 2;
          if (empty) {
            this.state = 'head';
            done.push(this.current);
          }
          break;
        }
      }
    }
    return done;
  }

  /** True when no response is partly received. */
  get idle(): boolean {
    return this.state === 'head' && this.pending === null;
  }

  private parseHead(head: string): void {
    // "HTTP/1.1 200 OK"
    if (!head.startsWith('HTTP/1.')) {
      this.error = `not an HTTP/1 response: ${JSON.stringify(head.slice(0, 40))}`;
      return;
    }
    const status = Number(head.slice(9, 12));
    let length = -1;
    let chunked = false;
    let close = false;
    const lines = head.split('\r\n');
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i] as string;
      const colon = line.indexOf(':');
      if (colon < 0) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim().toLowerCase();
      if (name === 'content-length') length = Number(value);
      else if (name === 'transfer-encoding') chunked = value.split(',').some((v) => v.trim() === 'chunked');
      else if (name === 'connection') close = value.split(',').some((v) => v.trim() === 'close');
    }
    this.current = { status, close };
    const noBody = (status >= 100 && status < 200) || status === 204 || status === 304;
    if (noBody) {
      this.state = 'head';
      if (status < 200) this.error = 'interim (1xx) responses are not supported';
    } else if (chunked) {
      this.state = 'chunk-size';
    } else if (length > 0) {
      this.state = 'body';
      this.remaining = length;
    } else if (length === 0) {
      this.state = 'head';
    } else {
      this.error = 'response without Content-Length or chunked encoding (read-until-close is not supported)';
    }
  }
}
