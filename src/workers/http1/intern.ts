// Strings the HTTP/1 head parser (parse.ts) hands out for common header names and methods, so that
// parsing them allocates nothing: a head's bytes are compared with these (case-insensitively for
// names) before any string is made. Pure.

const COMMON_NAMES = [
  'host', 'user-agent', 'accept', 'accept-encoding', 'accept-language', 'content-type', 'content-length',
  'transfer-encoding', 'connection', 'keep-alive', 'date', 'server', 'cache-control', 'authorization',
  'cookie', 'set-cookie', 'vary', 'etag', 'last-modified', 'location', 'x-forwarded-for', 'x-request-id',
  'te', 'trailer', 'upgrade', 'expect', 'origin', 'referer', 'content-encoding', 'l5d-dst-override',
];
const COMMON_METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH', 'CONNECT', 'TRACE'];

/** Per length, the candidates of that length (at most a few). */
function byLength(words: readonly string[]): string[][] {
  const table: string[][] = [];
  for (const w of words) (table[w.length] ??= []).push(w);
  return table;
}
const NAMES_BY_LENGTH = byLength(COMMON_NAMES);
const METHODS_BY_LENGTH = byLength(COMMON_METHODS);

/** The common string equal to `buf[start..end)` (letters folded to lowercase when `fold`), or undefined. */
function common(table: readonly (string[] | undefined)[], buf: Buffer, start: number, end: number, fold: boolean): string | undefined {
  const candidates = table[end - start];
  if (candidates === undefined) return undefined;
  next: for (const word of candidates) {
    for (let i = start, j = 0; i < end; i++, j++) {
      let c = buf[i] as number;
      if (fold && c >= 65 && c <= 90) c |= 0x20;
      if (c !== word.charCodeAt(j)) continue next;
    }
    return word;
  }
  return undefined;
}

/** `buf[start..end)` as latin1 text with ASCII letters lowercased; one string, however the name is cased. */
export function lowerName(buf: Buffer, start: number, end: number): string {
  const known = common(NAMES_BY_LENGTH, buf, start, end, true);
  if (known !== undefined) return known;
  for (let i = start; i < end; i++) {
    const c = buf[i] as number;
    if (c >= 65 && c <= 90) return buf.toString('latin1', start, end).toLowerCase();
  }
  return buf.toString('latin1', start, end);
}

/** Whether `buf` holds the ASCII text `text` at `at`. */
export function startsWith(buf: Buffer, at: number, text: string): boolean {
  if (at + text.length > buf.length) return false;
  for (let i = 0; i < text.length; i++) if (buf[at + i] !== text.charCodeAt(i)) return false;
  return true;
}


/** The common method string equal to `buf[start..end)` (methods are case-sensitive), or undefined. */
export function commonMethod(buf: Buffer, start: number, end: number): string | undefined {
  return common(METHODS_BY_LENGTH, buf, start, end, false);
}
