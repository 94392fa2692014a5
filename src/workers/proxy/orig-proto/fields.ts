// The header translations of the mesh hop's `l5d-orig-proto` scheme (Linkerd's orig-proto upgrade):
// between two proxies an HTTP/1 request travels as an HTTP/2 stream marked with the version it had, and
// the inbound proxy turns it back into HTTP/1 for the application. The name stays Linkerd's, as the ALPN
// `transport.l5d.io/v1` does: it is a wire contract between proxies, never seen by applications. Pure:
// HTTP/1 heads as the fast engine parses them (http1/parse.ts), HTTP/2 header lists flat [name, value, …].
import { connectionOptions, type Head } from '../../http1/parse.ts';
import { reasonPhrase } from '../../http1/reason.ts';

export const ORIG_PROTO = 'l5d-orig-proto';
/** The value's suffix (`HTTP/1.1; absolute-form`) when the request target was in absolute form (`http://host/path`). */
const ABSOLUTE_FORM = 'absolute-form';

/**
 * Fields that belong to one HTTP/1 connection (RFC 9112 §7.6.1, RFC 9113 §8.2.2): never carried across
 * the hop in either direction. `host` travels as `:authority`.
 */
const CONNECTION_FIELDS = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'http2-settings']);

/** What the inbound proxy reads from an `l5d-orig-proto` value; undefined for one it does not know. */
export interface OrigProto {
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  readonly minor: number;
  readonly absoluteForm: boolean;
}

export function parseOrigProto(value: string): OrigProto | undefined {
  let minor: number;
  if (value.startsWith('HTTP/1.1')) minor = 1;
  else if (value.startsWith('HTTP/1.0')) minor = 0;
  else return undefined;
  return { minor, absoluteForm: value.length > 8 && value.indexOf(ABSOLUTE_FORM, 8) > 0 };
}

/** The value of the request's `l5d-orig-proto` field, or undefined (an ordinary HTTP/2 request). */
export function origProtoOf(headers: readonly string[]): string | undefined {
  for (let i = 0; i + 1 < headers.length; i += 2) if (headers[i] === ORIG_PROTO) return headers[i + 1];
  return undefined;
}

/**
 * Outbound: the HTTP/2 head of an HTTP/1 request (origin-form target, `host` known): pseudo-headers, the
 * end-to-end fields in order, and `l5d-orig-proto`. Content-Length stays (it frames the DATA); chunked
 * framing is undone by the sender.
 */
export function upgradedRequestHeaders(head: Head, authority: string): string[] {
  const { names, values } = head;
  const out = [':method', head.method, ':scheme', 'http', ':authority', authority, ':path', head.target];
  const options = connectionOptions(names, values);
  for (let i = 0; i < names.length; i++) {
    const name = names[i] as string;
    if (name === 'host' || name === ORIG_PROTO || CONNECTION_FIELDS.has(name) || options?.has(name) === true) continue;
    out.push(name, values[i] as string);
  }
  out.push(ORIG_PROTO, head.minor === 0 ? 'HTTP/1.0' : 'HTTP/1.1');
  return out;
}

/** How an HTTP/1 message rebuilt from HTTP/2 delimits its body. */
export const F_NONE = 0;
export const F_LENGTH = 1;
export const F_CHUNKED = 2;

/** The rebuilt head and how its body is framed. Reused by its caller. */
export class RebuiltHead {
  text = '';
  framing = F_NONE;
}

/**
 * Outbound: the HTTP/1.1 response head for the client from the HTTP/2 response of the inbound proxy.
 * `bodiless`: HEAD, 1xx, 204, 304 (no body whatever the fields say; they are kept as they are).
 * Otherwise Content-Length when the response has one, `content-length: 0` when its head ended the
 * stream, chunked while its length is unknown.
 */
export function downgradedResponseHead(into: RebuiltHead, headers: readonly string[], status: number, bodiless: boolean, endStream: boolean): void {
  let text = `HTTP/1.1 ${status} ${reasonPhrase(status)}\r\n`;
  let hasLength = false;
  for (let i = 0; i + 1 < headers.length; i += 2) {
    const name = headers[i] as string;
    if (name.charCodeAt(0) === 0x3a || name === ORIG_PROTO) continue;
    if (name === 'content-length') hasLength = true;
    text += `${name}: ${headers[i + 1] as string}\r\n`;
  }
  let framing = F_NONE;
  if (!bodiless && !hasLength) {
    if (endStream) text += 'content-length: 0\r\n';
    else {
      text += 'transfer-encoding: chunked\r\n';
      framing = F_CHUNKED;
    }
  } else if (!bodiless) {
    framing = F_LENGTH;
  }
  into.text = `${text}\r\n`;
  into.framing = framing;
}

/**
 * Inbound: the HTTP/1 request head for the application from an upgraded HTTP/2 request, as the version
 * `l5d-orig-proto` names; `host` from `:authority`; cookie crumbs joined (RFC 9113 §8.2.3); `clientId`
 * (the verified caller, mesh-tls.ts) replaces any `clientIdHeader` the request carried. Chunked when
 * the request body has no length.
 */
export function downgradedRequestHead(into: RebuiltHead, headers: readonly string[], proto: OrigProto, endStream: boolean, clientIdHeader: string, clientId: string | undefined): void {
  let method = 'GET';
  let scheme = 'http';
  let authority: string | undefined;
  let path = '/';
  let fields = '';
  let cookie: string | undefined;
  let hasLength = false;
  for (let i = 0; i + 1 < headers.length; i += 2) {
    const name = headers[i] as string;
    const value = headers[i + 1] as string;
    if (name.charCodeAt(0) === 0x3a) {
      if (name === ':method') method = value;
      else if (name === ':path') path = value;
      else if (name === ':authority') authority = value;
      else if (name === ':scheme') scheme = value;
      continue;
    }
    if (name === ORIG_PROTO || name === clientIdHeader || CONNECTION_FIELDS.has(name)) continue;
    if (name === 'host') {
      authority ??= value;
      continue;
    }
    if (name === 'cookie') {
      cookie = cookie === undefined ? value : `${cookie}; ${value}`;
      continue;
    }
    if (name === 'content-length') hasLength = true;
    fields += `${name}: ${value}\r\n`;
  }
  const target = proto.absoluteForm && authority !== undefined ? `${scheme}://${authority}${path}` : path;
  let text = `${method} ${target} HTTP/1.${proto.minor}\r\n`;
  if (authority !== undefined) text += `host: ${authority}\r\n`;
  text += fields;
  if (cookie !== undefined) text += `cookie: ${cookie}\r\n`;
  if (clientId !== undefined) text += `${clientIdHeader}: ${clientId}\r\n`;
  let framing = hasLength ? F_LENGTH : F_NONE;
  if (!hasLength && !endStream) {
    text += 'transfer-encoding: chunked\r\n';
    framing = F_CHUNKED;
  }
  into.text = `${text}\r\n`;
  into.framing = framing;
}

/**
 * Inbound: the HTTP/2 response head from the application's HTTP/1 response head, connection fields
 * dropped, marked with the version the application answered in (as Linkerd's proxy does).
 */
export function upgradedResponseHeaders(head: Head): string[] {
  const { names, values } = head;
  const out = [':status', String(head.status)];
  const options = connectionOptions(names, values);
  for (let i = 0; i < names.length; i++) {
    const name = names[i] as string;
    if (name === ORIG_PROTO || CONNECTION_FIELDS.has(name) || options?.has(name) === true) continue;
    out.push(name, values[i] as string);
  }
  if (head.status >= 200) out.push(ORIG_PROTO, head.minor === 0 ? 'HTTP/1.0' : 'HTTP/1.1');
  return out;
}

/** Trailer fields of a chunked body's last chunk (`name: value` lines, CRLF-separated) as an HTTP/2 list. */
export function trailerList(block: string): string[] {
  const out: string[] = [];
  for (const line of block.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    if (CONNECTION_FIELDS.has(name) || name === 'content-length' || name === 'host') continue;
    out.push(name, line.slice(colon + 1).trim());
  }
  return out;
}

/** HTTP/2 trailers as the lines of a chunked body's end: `0\r\n`, the fields, the blank line. */
export function lastChunk(trailers: readonly string[]): string {
  let text = '0\r\n';
  for (let i = 0; i + 1 < trailers.length; i += 2) text += `${trailers[i] as string}: ${trailers[i + 1] as string}\r\n`;
  return `${text}\r\n`;
}
