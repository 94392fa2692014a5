// A lean HTTP/1 head parser and chunked-framing scanner for the fast engine (http1-fast.ts). Pure.
// It runs twice per proxied request, so it makes as few strings and arrays as it can (docs/performance.md).
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

import { commonMethod, lowerName, startsWith } from './intern.ts';

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
 * Reused between calls: the header lines found, before the head's own exact-size arrays are copied out.
 * Written by index and never truncated (setting `length = 0` would drop the backing store, and the next
 * push would allocate a new one).
 */
const scratchNames: string[] = [];
const scratchValues: string[] = [];
const scratchSpans: number[] = [];

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
  // Start line, read from the bytes: only the parts kept become strings.
  const lineEnd = buf.indexOf(LF);
  if (lineEnd < 1 || buf[lineEnd - 1] !== CR) return 'unsupported';
  const lineStop = lineEnd - 1;
  let method = '';
  let target = '';
  let status = 0;
  let minor: number;
  if (isRequest) {
    const sp1 = buf.indexOf(SP);
    const sp2 = buf.lastIndexOf(SP, lineStop);
    if (sp1 <= 0 || sp1 >= lineStop || sp2 <= sp1 + 1) return 'bad';
    for (let i = 0; i < sp1; i++) if (TCHAR[buf[i] as number] !== 1) return 'bad';
    for (let i = sp1 + 1; i < sp2; i++) {
      const c = buf[i] as number;
      if (c <= SP || c === 127) return 'bad';
    }
    if (lineStop - sp2 === 9 && startsWith(buf, sp2 + 1, 'HTTP/1.') && (buf[lineStop - 1] === 49 || buf[lineStop - 1] === 48)) {
      minor = (buf[lineStop - 1] as number) - 48;
    } else {
      return lineStop - sp2 > 5 && startsWith(buf, sp2 + 1, 'HTTP/') ? 'unsupported' : 'bad';
    }
    method = commonMethod(buf, 0, sp1) ?? buf.toString('latin1', 0, sp1);
    target = buf.toString('latin1', sp1 + 1, sp2);
  } else {
    if (lineStop < 12 || !startsWith(buf, 0, 'HTTP/1.')) return 'bad';
    if (lineStop > 12 && buf[12] !== SP) return 'bad';
    const m = (buf[7] as number) - 48;
    if ((m !== 0 && m !== 1) || buf[8] !== SP) return 'bad';
    minor = m;
    for (let i = 9; i < 12; i++) {
      const d = (buf[i] as number) - 48;
      if (d < 0 || d > 9) return 'bad';
      status = status * 10 + d;
    }
    target = lineStop > 13 ? (lineStop === 15 && buf[13] === 79 && buf[14] === 75 ? 'OK' : buf.toString('latin1', 13, lineStop)) : '';
  }
  // Header lines.
  const names = scratchNames;
  const values = scratchValues;
  const spans = scratchSpans;
  let count = 0;
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
    names[count] = lowerName(buf, pos, colon);
    values[count] = buf.toString('latin1', vs, ve);
    spans[2 * count] = pos;
    spans[2 * count + 1] = lf + 1;
    count++;
    pos = lf + 1;
  }
  const head: Head = {
    end: headEnd,
    linesStart: lineEnd + 1,
    method,
    target,
    status,
    minor,
    names: names.slice(0, count),
    values: values.slice(0, count),
    spans: spans.slice(0, 2 * count),
  };
  // The scratch keeps its capacity; its stale strings are dropped so they can be collected. A loop, not
  // Array.prototype.fill with a range: that one is a C++ builtin, a call out of optimized code per head.
  for (let i = 0; i < count; i++) {
    names[i] = '';
    values[i] = '';
  }
  return head;
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

/** The options a head's Connection fields name (fields to drop too); undefined when none, the usual case. */
export function connectionOptions(names: readonly string[], values: readonly string[]): Set<string> | undefined {
  let options: Set<string> | undefined;
  for (let i = 0; i < names.length; i++) {
    if (names[i] !== 'connection') continue;
    const value = values[i] as string;
    // The usual values name no option: nothing to split.
    if (value.length <= 10 && /^\s*(?:keep-alive|close)\s*$/i.test(value)) continue;
    for (const token of value.split(',')) {
      const option = token.trim().toLowerCase();
      if (option === '' || option === 'close' || option === 'keep-alive') continue;
      (options ??= new Set()).add(option);
    }
  }
  return options;
}

/**
 * Which header lines to drop when forwarding: hop-by-hop fields and the options named in Connection.
 * `keepTransferEncoding` keeps Transfer-Encoding (a chunked body forwarded as raw bytes still needs it).
 * Returns undefined when nothing is dropped (the head can be forwarded byte for byte).
 */
export function droppedFields(head: Head, keepTransferEncoding: boolean): boolean[] | undefined {
  const { names, values } = head;
  const options = connectionOptions(names, values);
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
 * (byte for byte, in order), then `extra` lines (each ending in CRLF), then the blank line; then
 * `buf[head.end..tailEnd)`, the body bytes that came with the head, so that both leave in one write.
 */
export function rewriteHead(buf: Buffer, head: Head, startLine: string | undefined, dropped: boolean[] | undefined, extra: string, tailEnd = head.end): Buffer {
  const prefix = startLine === undefined ? head.linesStart : Buffer.byteLength(startLine, 'latin1') + 2;
  let size = prefix + extra.length + 2 + (tailEnd - head.end);
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
  if (tailEnd > head.end) buf.copy(out, at, head.end, tailEnd);
  return out;
}
