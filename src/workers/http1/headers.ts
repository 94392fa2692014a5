// Hop-by-hop header handling for HTTP/1.1 forwarding (RFC 9110 §7.6.1), and relaying 1xx responses.
import type http from 'node:http';

/**
 * Connection-specific fields that are never forwarded. `te` is dropped too: it only speaks for the
 * hop it was sent on. `http2-settings` belongs to the h2c upgrade dance, which is hop-by-hop as well.
 */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'http2-settings',
]);

/** Lengths of the names above: a header whose length is not here is kept without lowercasing it. */
const HOP_BY_HOP_LENGTHS = new Set([...HOP_BY_HOP].map((name) => name.length));

/** Names listed in `Connection` (other than keep-alive/close/upgrade) are hop-by-hop as well. */
function connectionOptions(raw: readonly string[]): Set<string> | undefined {
  let options: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length !== 10 || name.toLowerCase() !== 'connection') continue;
    for (const token of (raw[i + 1] as string).split(',')) {
      const option = token.trim().toLowerCase();
      if (option === '' || option === 'close' || option === 'keep-alive') continue;
      (options ??= new Set()).add(option);
    }
  }
  return options;
}

/**
 * Returns `raw` (Node's flat [name, value, …] array) without hop-by-hop fields. When `keepUpgrade` is
 * set (a WebSocket or h2c upgrade being forwarded), `Connection: upgrade` and `Upgrade` pass through.
 */
export function stripHopByHop(raw: readonly string[], keepUpgrade = false): string[] {
  const options = connectionOptions(raw);
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    const value = raw[i + 1] as string;
    if (HOP_BY_HOP_LENGTHS.has(name.length) || (options !== undefined && options.has(name.toLowerCase()))) {
      const lower = name.toLowerCase();
      if (HOP_BY_HOP.has(lower) || options?.has(lower)) {
        if (keepUpgrade && lower === 'upgrade') out.push(name, value);
        continue;
      }
    }
    out.push(name, value);
  }
  if (keepUpgrade) out.push('Connection', 'upgrade');
  return out;
}

/** Whether the raw headers carry a request body (RFC 9112 §6.3: Transfer-Encoding or Content-Length > 0). */
export function framing(raw: readonly string[]): { chunked: boolean; contentLength: number | undefined } {
  let chunked = false;
  let contentLength: number | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length === 17 && name.toLowerCase() === 'transfer-encoding') chunked = true;
    else if (name.length === 14 && name.toLowerCase() === 'content-length') contentLength = Number(raw[i + 1]);
  }
  return { chunked, contentLength };
}

/** `raw` without the field `lowerName` (a lowercase name). */
export function withoutField(raw: readonly string[], lowerName: string): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if ((raw[i] as string).toLowerCase() !== lowerName) out.push(raw[i] as string, raw[i + 1] as string);
  }
  return out;
}

/** Node's flat [name, value, …] array as pairs (for trailers and informational responses). */
export function headerPairs(raw: readonly string[]): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (let i = 0; i + 1 < raw.length; i += 2) out.push([raw[i] as string, raw[i + 1] as string]);
  return out;
}

/** A 103's fields in the shape `writeEarlyHints` takes (every `Link` in one list). */
export function earlyHintHeaders(raw: readonly string[]): Record<string, string | string[]> & { link: string | string[] } {
  const links: string[] = [];
  const rest: Record<string, string> = {};
  for (const [name, value] of headerPairs(raw)) {
    if (name.toLowerCase() === 'link') links.push(value);
    else rest[name] = value;
  }
  return { ...rest, link: links };
}

/** Passes an upstream's 1xx on to the client: 100 Continue, 102 Processing, 103 Early Hints. */
export function relayInformational(res: http.ServerResponse, info: http.InformationEvent): void {
  if (res.headersSent || res.destroyed) return;
  if (info.statusCode === 100) res.writeContinue();
  else if (info.statusCode === 102) res.writeProcessing();
  else if (info.statusCode === 103) res.writeEarlyHints(earlyHintHeaders(info.rawHeaders));
}
