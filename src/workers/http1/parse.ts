// A lean HTTP/1 head parser and chunked-framing scanner for the fast engine (http1-fast.ts). Pure.
// It parses only what forwarding needs and reports anything unusual as `unsupported`, so the caller can
// hand the connection to the node:http path, which knows every corner of the protocol.

/** A parsed request or response head. Header names are lowercased; values are trimmed latin1 text. */
export interface Head {
  /** Offset just past the blank line that ends the head. */
  readonly end: number;
  /** Offset just past the start line's CRLF (where the header lines begin). */
  readonly linesStart: number;
  /** Request: the method; response: ''. */
  readonly method: string;
  /** Request: the request target; response: the status line's reason phrase. */
  readonly target: string;
  /** Response: the status code; request: 0. */
  readonly status: number;
  /** The minor version: 0 for HTTP/1.0, 1 for HTTP/1.1. */
  readonly minor: number;
  readonly names: string[];
  readonly values: string[];
  /** Per header, the offsets of its line: [start, endAfterCRLF, start, endAfterCRLF, …]. */
  readonly spans: number[];
}

export type HeadResult = Head | 'need-more' | 'too-large' | 'bad' | 'unsupported';

const CR = 13;
const LF = 10;
const SP = 32;
const HT = 9;
const COLON = 58;

/** RFC 9110 tchar, as a lookup table. */
const TCHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1;
for (let c = 48; c <= 57; c++) TCHAR[c] = 1;
for (let c = 65; c <= 90; c++) TCHAR[c] = 1;
for (let c = 97; c <= 122; c++) TCHAR[c] = 1;

/**
 * Parses the head at the start of `buf`. `searchFrom` lets a caller that appends bytes skip what it
 * already searched for the blank line. Bare LF line endings, obsolete line folding and leading empty
 * lines are `unsupported` (valid enough that the node:http path should decide, rare enough not to matter).
 */
export function parseHead(buf: Buffer, isRequest: boolean, maxBytes: number, searchFrom = 0): HeadResult {
  const from = searchFrom > 3 ? searchFrom - 3 : 0;
  const end = buf.indexOf('\r\n\r\n', from, 'latin1');
  if (end < 0) {
    if (buf.length > maxBytes) return 'too-large';
    if (buf.indexOf('\n\n', from, 'latin1') >= 0) return 'unsupported';
    return 'need-more';
  }
  if (end + 4 > maxBytes) return 'too-large';
  if (buf.length > 0 && (buf[0] === CR || buf[0] === LF)) return 'unsupported';
  const headEnd = end + 4;
  // Start line.
  const lineEnd = buf.indexOf(LF);
  if (lineEnd < 1 || buf[lineEnd - 1] !== CR) return 'unsupported';
  const startLine = buf.toString('latin1', 0, lineEnd - 1);
  let method = '';
  let target = '';
  let status = 0;
  let minor: number;
  if (isRequest) {
    const sp1 = startLine.indexOf(' ');
    const sp2 = startLine.lastIndexOf(' ');
    if (sp1 <= 0 || sp2 <= sp1 + 1) return 'bad';
    method = startLine.slice(0, sp1);
    for (let i = 0; i < sp1; i++) if (TCHAR[startLine.charCodeAt(i)] !== 1) return 'bad';
    target = startLine.slice(sp1 + 1, sp2);
    for (let i = 0; i < target.length; i++) {
      const c = target.charCodeAt(i);
      if (c <= SP || c === 127) return 'bad';
    }
    const version = startLine.slice(sp2 + 1);
    if (version === 'HTTP/1.1') minor = 1;
    else if (version === 'HTTP/1.0') minor = 0;
    else return version.startsWith('HTTP/') ? 'unsupported' : 'bad';
  } else {
    if (startLine.length < 12 || !startLine.startsWith('HTTP/1.')) return 'bad';
    if (startLine.length > 12 && startLine.charCodeAt(12) !== SP) return 'bad';
    const m = startLine.charCodeAt(7) - 48;
    if ((m !== 0 && m !== 1) || startLine.charCodeAt(8) !== SP) return 'bad';
    minor = m;
    const code = startLine.slice(9, 12);
    if (!/^\d{3}$/.test(code)) return 'bad';
    status = Number(code);
    target = startLine.slice(13);
  }
  // Header lines.
  const names: string[] = [];
  const values: string[] = [];
  const spans: number[] = [];
  let pos = lineEnd + 1;
  while (pos < end + 2) {
    const lf = buf.indexOf(LF, pos);
    if (lf < 0 || buf[lf - 1] !== CR) return 'unsupported';
    const first = buf[pos] as number;
    if (first === SP || first === HT) return 'unsupported'; // obs-fold
    let colon = -1;
    for (let i = pos; i < lf - 1; i++) {
      const c = buf[i] as number;
      if (c === COLON) {
        colon = i;
        break;
      }
      if (TCHAR[c] !== 1) return 'bad';
    }
    if (colon <= pos) return 'bad';
    let vs = colon + 1;
    let ve = lf - 1;
    while (vs < ve && (buf[vs] === SP || buf[vs] === HT)) vs++;
    while (ve > vs && (buf[ve - 1] === SP || buf[ve - 1] === HT)) ve--;
    for (let i = vs; i < ve; i++) {
      const c = buf[i] as number;
      if ((c < SP && c !== HT) || c === 127) return 'bad';
    }
    names.push(buf.toString('latin1', pos, colon).toLowerCase());
    values.push(buf.toString('latin1', vs, ve));
    spans.push(pos, lf + 1);
    pos = lf + 1;
  }
  return { end: headEnd, linesStart: lineEnd + 1, method, target, status, minor, names, values, spans };
}

/** How a message body is delimited. */
export type BodyFraming = { kind: 'none' } | { kind: 'length'; length: number } | { kind: 'chunked' } | { kind: 'close' } | { kind: 'bad' };

const NONE: BodyFraming = { kind: 'none' };
const CHUNKED: BodyFraming = { kind: 'chunked' };
const CLOSE: BodyFraming = { kind: 'close' };
const BAD: BodyFraming = { kind: 'bad' };

/** The framing of a message's body from its headers (RFC 9112 §6.3). */
export function bodyFraming(head: Head, isRequest: boolean): BodyFraming {
  let length: number | undefined;
  let te: string | undefined;
  for (let i = 0; i < head.names.length; i++) {
    const name = head.names[i] as string;
    if (name === 'content-length') {
      const value = head.values[i] as string;
      if (!/^\d{1,15}$/.test(value)) return BAD;
      const n = Number(value);
      if (length !== undefined && length !== n) return BAD;
      length = n;
    } else if (name === 'transfer-encoding') {
      te = te === undefined ? (head.values[i] as string) : `${te}, ${head.values[i] as string}`;
    }
  }
  if (te !== undefined) {
    if (length !== undefined) return BAD; // request smuggling territory: let node:http decide
    const last = te.slice(te.lastIndexOf(',') + 1).trim().toLowerCase();
    if (last === 'chunked') return isRequest && te.trim().toLowerCase() !== 'chunked' ? BAD : CHUNKED;
    return isRequest ? BAD : CLOSE;
  }
  if (length !== undefined) return length === 0 ? NONE : { kind: 'length', length };
  return isRequest ? NONE : CLOSE;
}

const S_SIZE = 0;
const S_EXT = 1;
const S_SIZE_LF = 2;
const S_DATA = 3;
const S_DATA_CR = 4;
const S_DATA_LF = 5;
const S_TRAILER_START = 6;
const S_TRAILER = 7;
const S_TRAILER_LF = 8;
const S_END_LF = 9;
const S_DONE = 10;

/**
 * Follows chunked framing over raw bytes without decoding them: `scan` says where the message ends.
 * Chunk extensions and trailer fields are skipped (forwarded as they are).
 */
export class ChunkedScanner {
  private state = S_SIZE;
  private remaining = 0;
  private digits = 0;
  private trailerBytes = 0;
  /** Payload bytes seen so far (chunk data, without the framing). */
  dataBytes = 0;

  reset(): void {
    this.dataBytes = 0;
    this.state = S_SIZE;
    this.remaining = 0;
    this.digits = 0;
    this.trailerBytes = 0;
  }

  get done(): boolean {
    return this.state === S_DONE;
  }

  /**
   * Scans buf[start, end): returns the offset just past the message's last byte when it ends in this
   * range, -1 when it continues beyond, -2 when the framing is malformed.
   */
  scan(buf: Buffer, start: number, end: number): number {
    let i = start;
    while (i < end) {
      switch (this.state) {
        case S_DATA: {
          const take = Math.min(this.remaining, end - i);
          i += take;
          this.remaining -= take;
          this.dataBytes += take;
          if (this.remaining === 0) this.state = S_DATA_CR;
          continue;
        }
        case S_SIZE: {
          const c = buf[i] as number;
          const d = hexValue(c);
          if (d >= 0) {
            if (++this.digits > 13) return -2;
            this.remaining = this.remaining * 16 + d;
          } else if (this.digits === 0) {
            return -2;
          } else if (c === CR) {
            this.state = S_SIZE_LF;
          } else if (c === 59 /* ; */ || c === SP || c === HT) {
            this.state = S_EXT;
          } else {
            return -2;
          }
          break;
        }
        case S_EXT: {
          const c = buf[i] as number;
          if (c === CR) this.state = S_SIZE_LF;
          else if (c === LF) return -2;
          break;
        }
        case S_SIZE_LF:
          if (buf[i] !== LF) return -2;
          this.digits = 0;
          this.state = this.remaining === 0 ? S_TRAILER_START : S_DATA;
          break;
        case S_DATA_CR:
          if (buf[i] !== CR) return -2;
          this.state = S_DATA_LF;
          break;
        case S_DATA_LF:
          if (buf[i] !== LF) return -2;
          this.state = S_SIZE;
          break;
        case S_TRAILER_START: {
          const c = buf[i] as number;
          if (c === CR) this.state = S_END_LF;
          else if (c === LF) return -2;
          else this.state = S_TRAILER;
          break;
        }
        case S_TRAILER: {
          const c = buf[i] as number;
          if (++this.trailerBytes > 16384) return -2;
          if (c === CR) this.state = S_TRAILER_LF;
          else if (c === LF) return -2;
          break;
        }
        case S_TRAILER_LF:
          if (buf[i] !== LF) return -2;
          this.state = S_TRAILER_START;
          break;
        case S_END_LF:
          if (buf[i] !== LF) return -2;
          this.state = S_DONE;
          return i + 1;
        default:
          return i; // S_DONE: nothing more belongs to this message
      }
      i++;
    }
    return -1;
  }
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** Hop-by-hop fields (http1-headers.ts HOP_BY_HOP), by lowercase name. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'http2-settings']);

/**
 * Which header lines to drop when forwarding: hop-by-hop fields and the options named in Connection.
 * `keepTransferEncoding` keeps Transfer-Encoding (a chunked body forwarded as raw bytes still needs it).
 * Returns undefined when nothing is dropped (the head can be forwarded byte for byte).
 */
export function droppedFields(head: Head, keepTransferEncoding: boolean): boolean[] | undefined {
  let options: Set<string> | undefined;
  const { names, values } = head;
  for (let i = 0; i < names.length; i++) {
    if (names[i] !== 'connection') continue;
    for (const token of (values[i] as string).split(',')) {
      const option = token.trim().toLowerCase();
      if (option === '' || option === 'close' || option === 'keep-alive') continue;
      (options ??= new Set()).add(option);
    }
  }
  let dropped: boolean[] | undefined;
  for (let i = 0; i < names.length; i++) {
    const name = names[i] as string;
    if (keepTransferEncoding && name === 'transfer-encoding') continue;
    if (HOP_BY_HOP.has(name) || options?.has(name) === true) {
      dropped ??= new Array<boolean>(names.length).fill(false);
      dropped[i] = true;
    }
  }
  return dropped;
}

/**
 * The head re-assembled: `startLine` (without CRLF) or the original one, the header lines not dropped
 * (byte for byte, in order), then `extra` lines (each ending in CRLF), then the blank line.
 */
export function rewriteHead(buf: Buffer, head: Head, startLine: string | undefined, dropped: boolean[] | undefined, extra: string): Buffer {
  const prefix = startLine === undefined ? head.linesStart : Buffer.byteLength(startLine, 'latin1') + 2;
  let size = prefix + extra.length + 2;
  const { spans } = head;
  for (let i = 0; i < spans.length; i += 2) if (dropped?.[i >> 1] !== true) size += (spans[i + 1] as number) - (spans[i] as number);
  const out = Buffer.allocUnsafe(size);
  let at: number;
  if (startLine === undefined) {
    at = buf.copy(out, 0, 0, head.linesStart);
  } else {
    at = out.write(startLine, 0, 'latin1');
    out[at++] = CR;
    out[at++] = LF;
  }
  for (let i = 0; i < spans.length; i += 2) {
    if (dropped?.[i >> 1] !== true) at += buf.copy(out, at, spans[i] as number, spans[i + 1] as number);
  }
  if (extra !== '') at += out.write(extra, at, 'latin1');
  out[at++] = CR;
  out[at++] = LF;
  return out;
}
