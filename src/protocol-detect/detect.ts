/**
 * Protocol detection on the first bytes of an accepted connection.
 *
 * The acceptor buffers what the peer sends, calls {@link detectProtocol} after every chunk on the
 * whole buffer so far, and hands the connection to the HTTP/1, HTTP/2, TLS or opaque (plain TCP)
 * stack once the answer is anything but `need-more`. The rules follow Linkerd's proxy:
 *
 * - HTTP/2 with prior knowledge: the 24-byte client connection preface.
 * - HTTP/1.x: a syntactically valid request line.
 * - TLS: a ClientHello record; SNI and ALPN are read from it so the proxy can route without
 *   terminating TLS.
 * - Anything else is opaque.
 *
 * Guarantees relied on by the caller and checked by the property tests:
 *
 * - Pure and total: no I/O, never throws, reads nothing past `buf.length`.
 * - Prefix-stable: once a buffer gets a decision other than `need-more`, every extension of it gets
 *   the same decision. Each rule only looks at a bounded, fixed region (the request line, the
 *   preface, the first TLS record), so feeding one byte at a time ends in the same answer as
 *   feeding everything at once.
 * - Bounded: `need-more` is only ever returned for buffers shorter than {@link DETECT_MAX_BYTES}.
 *
 * Cost: the caller re-runs detection on the whole buffer after each chunk. The TLS path is O(1)
 * until the record is complete and then one walk over it; the HTTP/1 path is one flat byte loop
 * over at most {@link MAX_REQUEST_LINE} bytes; nothing converts the buffer to a string. A peer
 * that trickles a long request line one byte per segment makes this quadratic in the line length
 * (≈ 33 M byte checks at the 8 KiB cap), which the caller's detection timeout bounds in practice.
 */

export type Detected =
  | { kind: 'http1' }
  | { kind: 'h2' }
  | { kind: 'tls'; sni: string | undefined; alpn: readonly string[] }
  | { kind: 'opaque'; reason: 'not_http' }
  | { kind: 'need-more' };

/**
 * Longest request line (method, target, version and line terminator) still considered HTTP/1.
 *
 * The shortest possible line is 14 bytes plus its terminator (`GET / HTTP/1.1`), real ones are
 * dominated by the target. 8 KiB matches the request-line/URI limits of the common servers
 * (nginx's default large_client_header_buffers line, Apache's LimitRequestLine 8190, Node's
 * 16 KiB total header budget): a client with a longer line would be rejected by the application
 * anyway, and not waiting for it bounds how long plain-TCP traffic that happens to start with a
 * token and a space sits in detection.
 */
export const MAX_REQUEST_LINE = 8 * 1024;

/**
 * Largest TLS record length we accept for the first (ClientHello) record.
 *
 * A ClientHello travels in a TLSPlaintext record, whose fragment is at most 2^14 bytes
 * (RFC 8446 §5.1, RFC 5246 §6.2.1). We tolerate 256 bytes more (the TLS 1.3 ciphertext
 * expansion allowance) so a slightly non-conforming client is still recognised as TLS and
 * passed through with its SNI, rather than labelled opaque. A longer length field means this is
 * not a TLS record, and is decided as soon as the 5-byte header is in.
 */
export const TLS_MAX_RECORD_LEN = 16384 + 256;

/** TLS record header: content type (1), legacy_record_version (2), length (2). */
const TLS_RECORD_HEADER_LEN = 5;

/**
 * Bytes the caller buffers at most before giving up as opaque.
 *
 * A TLS ClientHello is only parsed once its whole first record is buffered (SNI and ALPN sit in
 * the extensions at the end, and post-quantum key shares push real ClientHellos well past 1 KiB),
 * so the cap must hold the largest record we accept: 5 + 16384 + 256 = 16645 bytes. Every other
 * rule decides earlier (HTTP/2 after 24 bytes, HTTP/1 within {@link MAX_REQUEST_LINE}), so
 * `detectProtocol` never answers `need-more` for a buffer this long; the cap in the caller is a
 * backstop, not something a well-formed peer can hit.
 */
export const DETECT_MAX_BYTES: number = TLS_RECORD_HEADER_LEN + TLS_MAX_RECORD_LEN;

// Shared, frozen results: the common answers allocate nothing.
const NEED_MORE: Detected = Object.freeze({ kind: 'need-more' });
const HTTP1: Detected = Object.freeze({ kind: 'http1' });
const H2: Detected = Object.freeze({ kind: 'h2' });
const OPAQUE: Detected = Object.freeze({ kind: 'opaque', reason: 'not_http' });
const NO_ALPN: readonly string[] = Object.freeze([]);
/** A ClientHello we could not (fully) read: still TLS, so it is passed through untouched. */
const TLS_UNREADABLE: Detected = Object.freeze({ kind: 'tls', sni: undefined, alpn: NO_ALPN });

/**
 * HTTP/2 client connection preface (RFC 9113 §3.4).
 *
 * Linkerd matches only the first 14 bytes (`PRI * HTTP/2.0`); we require all 24 once available.
 * `PRI * HTTP/2.0` followed by anything other than `\r\n\r\nSM\r\n\r\n` is opaque: it is not
 * HTTP/2, and although `PRI * HTTP/2.0\r\n` parses as an HTTP/1 request line, its version is 2.0,
 * which the HTTP/1 rule below does not accept, so no HTTP/1 stack is handed a line it would
 * answer with 505 or misparse.
 */
const H2_PREFACE = new Uint8Array([
  0x50, 0x52, 0x49, 0x20, 0x2a, 0x20, 0x48, 0x54, 0x54, 0x50, 0x2f, 0x32, // PRI * HTTP/2
  0x2e, 0x30, 0x0d, 0x0a, 0x0d, 0x0a, 0x53, 0x4d, 0x0d, 0x0a, 0x0d, 0x0a, // .0\r\n\r\nSM\r\n\r\n
]);

/** `HTTP/1.`: HTTP-name is case-sensitive (RFC 9112 §2.3). */
const HTTP1_VERSION_PREFIX = new Uint8Array([0x48, 0x54, 0x54, 0x50, 0x2f, 0x31, 0x2e]);

/** 1 for the RFC 9110 §5.6.2 `tchar` set: ALPHA / DIGIT / "!#$%&'*+-.^_`|~". */
const TCHAR = new Uint8Array(256);
for (let c = 0x30; c <= 0x39; c++) TCHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TCHAR[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TCHAR[c] = 1;
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1;

const SP = 0x20;
const CR = 0x0d;
const LF = 0x0a;
const TLS_HANDSHAKE = 22;
const TLS_CLIENT_HELLO = 1;
const EXT_SERVER_NAME = 0;
const EXT_ALPN = 16;
/** DNS names are at most 253 characters in text form; 255 is the wire-format bound. */
const MAX_HOST_NAME = 255;

// Outcome of matching one rule against the bytes seen so far.
type Match = 0 | 1 | 2;
const NO: Match = 0; // a byte rules this protocol out
const MAYBE: Match = 1; // the bytes so far are a strict prefix of a valid form
const YES: Match = 2; // matched

/**
 * Classifies the first bytes of a connection. See the module comment for the guarantees;
 * `need-more` means the prefix is still ambiguous.
 */
export function detectProtocol(buf: Buffer): Detected {
  if (buf.length === 0) return NEED_MORE; // server-speaks-first protocols send nothing first
  // 0x16 is a control byte, so neither the h2 preface nor an HTTP/1 method can start with it.
  if (buf[0] === TLS_HANDSHAKE) return detectTls(buf);
  const h2 = matchH2Preface(buf);
  if (h2 === YES) return H2;
  // `PRI * HTTP/1.1\r\n` is a valid HTTP/1 line, so both rules run while the prefix is shared.
  const http1 = matchHttp1RequestLine(buf);
  if (http1 === YES) return HTTP1;
  if (h2 === MAYBE || http1 === MAYBE) return NEED_MORE;
  return OPAQUE;
}

function matchH2Preface(buf: Buffer): Match {
  const n = buf.length < H2_PREFACE.length ? buf.length : H2_PREFACE.length;
  for (let i = 0; i < n; i++) {
    if (buf[i] !== H2_PREFACE[i]) return NO;
  }
  return buf.length >= H2_PREFACE.length ? YES : MAYBE;
}

/**
 * `method SP request-target SP HTTP/1.<digit> (CRLF | LF)`, whole line within
 * {@link MAX_REQUEST_LINE} bytes. Strict single spaces, no leading empty lines (a connection's
 * first bytes are never a leftover CRLF), request-target = 1+ visible ASCII bytes. Any
 * `HTTP/1.<digit>` is accepted, HTTP/1.0 included; two-digit minors and other majors are not.
 */
function matchHttp1RequestLine(buf: Buffer): Match {
  const len = buf.length;
  // Running into `limit` means "out of bytes": MAYBE below the cap, NO at it.
  const limit = len < MAX_REQUEST_LINE ? len : MAX_REQUEST_LINE;
  const outOfBytes: Match = len < MAX_REQUEST_LINE ? MAYBE : NO;
  let i = 0;

  while (i < limit && TCHAR[buf[i]!] === 1) i++;
  if (i === limit) return outOfBytes;
  if (i === 0 || buf[i] !== SP) return NO;
  i++;

  const targetStart = i;
  for (; i < limit; i++) {
    const b = buf[i]!;
    if (b < 0x21 || b > 0x7e) break;
  }
  if (i === limit) return outOfBytes;
  if (i === targetStart || buf[i] !== SP) return NO;
  i++;

  for (let k = 0; k < HTTP1_VERSION_PREFIX.length; k++, i++) {
    if (i === limit) return outOfBytes;
    if (buf[i] !== HTTP1_VERSION_PREFIX[k]) return NO;
  }
  if (i === limit) return outOfBytes;
  const minor = buf[i]!;
  if (minor < 0x30 || minor > 0x39) return NO;
  i++;

  if (i === limit) return outOfBytes;
  if (buf[i] === LF) return YES; // bare LF, as lenient parsers accept
  if (buf[i] !== CR) return NO;
  i++;
  if (i === limit) return outOfBytes;
  return buf[i] === LF ? YES : NO;
}

/**
 * TLS: record header `22, 3, 1..4, u16 length`, first handshake message type ClientHello.
 * Anything failing the header checks is opaque as soon as the offending byte arrives. Otherwise
 * we wait for the whole first record, because the fields we want come last and a record is the
 * unit a TLS stack reads anyway; then the answer is `tls` whatever the record holds.
 */
function detectTls(buf: Buffer): Detected {
  const len = buf.length;
  if (len < 2) return NEED_MORE;
  if (buf[1] !== 3) return OPAQUE;
  if (len < 3) return NEED_MORE;
  const recordMinor = buf[2]!;
  if (recordMinor < 1 || recordMinor > 4) return OPAQUE; // 0x0300 is SSL 3.0: not supported
  if (len < TLS_RECORD_HEADER_LEN) return NEED_MORE;
  const recordLen = (buf[3]! << 8) | buf[4]!;
  // Zero-length handshake fragments are forbidden (RFC 8446 §5.1, RFC 5246 §6.2.1).
  if (recordLen === 0 || recordLen > TLS_MAX_RECORD_LEN) return OPAQUE;
  if (len < TLS_RECORD_HEADER_LEN + 1) return NEED_MORE;
  if (buf[5] !== TLS_CLIENT_HELLO) return OPAQUE;
  const recordEnd = TLS_RECORD_HEADER_LEN + recordLen;
  if (len < recordEnd) return NEED_MORE;
  return readClientHello(buf, recordEnd);
}

/**
 * Reads SNI and ALPN from the ClientHello in `buf[5, recordEnd)`. Never reads past `recordEnd`.
 *
 * - A message cut by the record boundary (a ClientHello spanning records) is read as far as the
 *   first record goes: extensions wholly inside it count, the rest is unknown.
 * - A message that is malformed within its own bounds (a length pointing past its container, an
 *   empty or duplicate SNI/ALPN extension, trailing bytes) yields `sni: undefined, alpn: []`:
 *   the peer's TLS server will reject it, and we report nothing we would route on.
 * - A well-formed host_name that is not a plausible DNS name (bytes outside letters, digits,
 *   `-`, `.`, `_`, or longer than 255) is reported as `sni: undefined`; ALPN is kept.
 */
function readClientHello(buf: Buffer, recordEnd: number): Detected {
  // Handshake header: msg_type (1, checked), length (3).
  if (recordEnd < 9) return TLS_UNREADABLE; // the header itself is split across records
  const declaredEnd = 9 + ((buf[6]! << 16) | (buf[7]! << 8) | buf[8]!);
  const cut = declaredEnd > recordEnd;
  const end = cut ? recordEnd : declaredEnd;

  // legacy_version (2), random (32)
  let p = 9 + 34;
  if (p + 1 > end) return TLS_UNREADABLE;
  const sessionIdLen = buf[p]!;
  if (sessionIdLen > 32) return TLS_UNREADABLE;
  p += 1 + sessionIdLen;
  if (p + 2 > end) return TLS_UNREADABLE;
  const cipherSuitesLen = (buf[p]! << 8) | buf[p + 1]!;
  if (cipherSuitesLen === 0 || (cipherSuitesLen & 1) === 1) return TLS_UNREADABLE;
  p += 2 + cipherSuitesLen;
  if (p + 1 > end) return TLS_UNREADABLE;
  const compressionLen = buf[p]!;
  if (compressionLen === 0) return TLS_UNREADABLE;
  p += 1 + compressionLen;
  // No extensions at all (legal before TLS 1.3) also lands here: nothing to report either way.
  if (p + 2 > end) return TLS_UNREADABLE;
  const extensionsEnd = p + 2 + ((buf[p]! << 8) | buf[p + 1]!);
  p += 2;
  // The block must fill the message exactly; it may only overrun the first record when the
  // message itself continues in the next one. Either way the walk below ends at `end`.
  if (extensionsEnd > end ? !cut : extensionsEnd !== end) return TLS_UNREADABLE;

  let sni: string | undefined;
  let sawSni = false;
  let alpn: string[] | undefined;
  while (p < end) {
    if (p + 4 > end) return cut ? tlsResult(sni, alpn) : TLS_UNREADABLE;
    const type = (buf[p]! << 8) | buf[p + 1]!;
    const dataStart = p + 4;
    const dataEnd = dataStart + ((buf[p + 2]! << 8) | buf[p + 3]!);
    if (dataEnd > end) return cut ? tlsResult(sni, alpn) : TLS_UNREADABLE;
    p = dataEnd;
    if (type === EXT_SERVER_NAME) {
      if (sawSni) return TLS_UNREADABLE;
      sawSni = true;
      const name = readServerName(buf, dataStart, dataEnd);
      if (name === null) return TLS_UNREADABLE;
      sni = name;
    } else if (type === EXT_ALPN) {
      if (alpn !== undefined) return TLS_UNREADABLE;
      const list = readAlpn(buf, dataStart, dataEnd);
      if (list === null) return TLS_UNREADABLE;
      alpn = list;
    }
  }
  return tlsResult(sni, alpn);
}

function tlsResult(sni: string | undefined, alpn: string[] | undefined): Detected {
  if (sni === undefined && alpn === undefined) return TLS_UNREADABLE;
  return { kind: 'tls', sni, alpn: alpn ?? NO_ALPN };
}

/**
 * server_name extension (RFC 6066 §3): `u16 list length, (u8 name_type, u16 length, bytes)+`.
 * Returns the first host_name (type 0), lowercased because DNS names compare case-insensitively
 * and callers use it as a routing key; `undefined` when there is no usable host_name; `null` when
 * the extension is malformed.
 */
function readServerName(buf: Buffer, start: number, end: number): string | undefined | null {
  if (start + 2 > end) return null;
  const listEnd = start + 2 + ((buf[start]! << 8) | buf[start + 1]!);
  if (listEnd !== end || listEnd === start + 2) return null;
  let name: string | undefined;
  let found = false;
  let p = start + 2;
  while (p < end) {
    if (p + 3 > end) return null;
    const nameType = buf[p]!;
    const nameStart = p + 3;
    const nameEnd = nameStart + ((buf[p + 1]! << 8) | buf[p + 2]!);
    if (nameEnd > end || nameEnd === nameStart) return null;
    p = nameEnd;
    if (nameType !== 0 || found) continue;
    found = true;
    if (isHostName(buf, nameStart, nameEnd)) {
      name = buf.toString('latin1', nameStart, nameEnd).toLowerCase();
    }
  }
  return name;
}

function isHostName(buf: Buffer, start: number, end: number): boolean {
  if (end - start > MAX_HOST_NAME) return false;
  for (let i = start; i < end; i++) {
    const b = buf[i]!;
    const ok =
      (b >= 0x61 && b <= 0x7a) || // a-z
      (b >= 0x41 && b <= 0x5a) || // A-Z
      (b >= 0x30 && b <= 0x39) || // 0-9
      b === 0x2d || b === 0x2e || b === 0x5f; // - . _
    if (!ok) return false;
  }
  return true;
}

/**
 * ALPN extension (RFC 7301 §3.1): `u16 list length, (u8 length, bytes)+`, no empty names.
 * Names are opaque bytes, decoded as latin1 so every byte maps to one char losslessly.
 * Returns `null` when malformed.
 */
function readAlpn(buf: Buffer, start: number, end: number): string[] | null {
  if (start + 2 > end) return null;
  const listEnd = start + 2 + ((buf[start]! << 8) | buf[start + 1]!);
  if (listEnd !== end || listEnd === start + 2) return null;
  const names: string[] = [];
  let p = start + 2;
  while (p < end) {
    const nameLen = buf[p]!;
    const nameEnd = p + 1 + nameLen;
    if (nameLen === 0 || nameEnd > end) return null;
    names.push(buf.toString('latin1', p + 1, nameEnd));
    p = nameEnd;
  }
  return names;
}
