// HTTP message validity for HTTP/2 header lists (RFC 9113 §8.1–§8.3), checked on every received header
// block: a malformed message is a stream error PROTOCOL_ERROR (§8.1.1), so an intermediary never forwards
// what a good server would refuse. Pure functions over flat [name, value, ...] arrays; each returns the
// reason a list is malformed, or null, and records what the engine needs (status, content-length) in a
// reused HeadFacts object instead of allocating one per message.

export interface HeadFacts {
  /** :status of a response (0 for requests). */
  status: number;
  /** content-length, or -1 when absent. */
  contentLength: number;
  /** :method is HEAD (a response to it carries no body whatever its content-length says). */
  isHead: boolean;
}

/** Fields that are meaningful only to one HTTP/1 connection and must not appear in HTTP/2 (§8.2.2). */
const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);

/** A field name: no uppercase, no controls, no space, no DEL or non-ASCII; not empty (§8.2.1). */
function badName(name: string): boolean {
  if (name.length === 0) return true;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c <= 0x20 || (c >= 0x41 && c <= 0x5a) || c >= 0x7f) return true;
  }
  return false;
}

/** A field value: no NUL, CR or LF anywhere, no leading or trailing space or tab (§8.2.1). */
function badValue(value: string): boolean {
  if (value.length === 0) return false;
  const first = value.charCodeAt(0);
  const last = value.charCodeAt(value.length - 1);
  if (first === 0x20 || first === 0x09 || last === 0x20 || last === 0x09) return true;
  return value.indexOf('\n') !== -1 || value.indexOf('\r') !== -1 || value.indexOf('\0') !== -1;
}

/** content-length: digits only; repeated values must agree (§8.6 via RFC 9110 §8.6). */
function contentLength(previous: number, value: string): number | string {
  if (!/^[0-9]{1,15}$/.test(value)) return `invalid content-length ${JSON.stringify(value)}`;
  const n = Number(value);
  if (previous !== -1 && previous !== n) return 'conflicting content-length values';
  return n;
}

/** Checks the regular (non-pseudo) field at `i`; returns a reason or null. */
function checkRegular(headers: readonly string[], i: number, facts: HeadFacts, isRequest: boolean): string | null {
  const name = headers[i]!;
  const value = headers[i + 1]!;
  if (badName(name)) return `invalid field name ${JSON.stringify(name)}`;
  if (badValue(value)) return `invalid value for field ${name}`;
  if (CONNECTION_SPECIFIC.has(name)) return `connection-specific field ${name}`;
  if (name === 'te' && (!isRequest || value !== 'trailers')) return 'te other than "trailers"';
  if (name === 'content-length') {
    const n = contentLength(facts.contentLength, value);
    if (typeof n === 'string') return n;
    facts.contentLength = n;
  }
  return null;
}

/** A request header list (§8.3.1). */
export function checkRequestHead(headers: readonly string[], facts: HeadFacts): string | null {
  facts.status = 0;
  facts.contentLength = -1;
  facts.isHead = false;
  let method = '';
  let scheme = false;
  let path = false;
  let authority = false;
  let regular = false;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!;
    if (name.charCodeAt(0) === 0x3a) {
      if (regular) return `pseudo-header ${name} after regular fields`;
      const value = headers[i + 1]!;
      if (name === ':method') {
        if (method !== '') return 'duplicate :method';
        if (value === '' || badName(value.toLowerCase())) return 'invalid :method';
        method = value;
      } else if (name === ':scheme') {
        if (scheme) return 'duplicate :scheme';
        if (value === '') return 'empty :scheme';
        scheme = true;
      } else if (name === ':path') {
        if (path) return 'duplicate :path';
        if (value === '') return 'empty :path';
        path = true;
      } else if (name === ':authority') {
        if (authority) return 'duplicate :authority';
        if (badValue(value)) return 'invalid :authority';
        authority = true;
      } else {
        return `pseudo-header ${name} is not defined for requests`;
      }
      continue;
    }
    regular = true;
    const reason = checkRegular(headers, i, facts, true);
    if (reason !== null) return reason;
  }
  if (method === 'CONNECT') {
    if (!authority || scheme || path) return 'CONNECT needs :authority and no :scheme or :path';
  } else if (method === '' || !scheme || !path) {
    return 'missing :method, :scheme or :path';
  }
  facts.isHead = method === 'HEAD';
  return null;
}

/** A response header list, informational or final (§8.3.2). */
export function checkResponseHead(headers: readonly string[], facts: HeadFacts): string | null {
  facts.status = 0;
  facts.contentLength = -1;
  let regular = false;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!;
    if (name.charCodeAt(0) === 0x3a) {
      if (regular) return `pseudo-header ${name} after regular fields`;
      if (name !== ':status') return `pseudo-header ${name} is not defined for responses`;
      if (facts.status !== 0) return 'duplicate :status';
      const value = headers[i + 1]!;
      if (!/^[1-9][0-9][0-9]$/.test(value)) return `invalid :status ${JSON.stringify(value)}`;
      facts.status = Number(value);
      continue;
    }
    regular = true;
    const reason = checkRegular(headers, i, facts, false);
    if (reason !== null) return reason;
  }
  if (facts.status === 0) return 'missing :status';
  return null;
}

/** A trailer section: regular fields only (§8.1). */
export function checkTrailers(headers: readonly string[], facts: HeadFacts): string | null {
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i]!.charCodeAt(0) === 0x3a) return `pseudo-header ${headers[i]} in trailers`;
    const reason = checkRegular(headers, i, facts, false);
    if (reason !== null) return reason;
  }
  return null;
}
