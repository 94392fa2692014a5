// Tap hooks for the node:http stack (what the fast HTTP/1 engine hands over): they wrap the response objects of requests that
// arrive while a tap is installed, and turn what passes through them into a TapStream's events.
import type http from 'node:http';
import net from 'node:net';
import type { HostPort } from '../../config/parse.ts';
import type { Direction } from '../../telemetry/proxy-metrics.ts';
import type { TapRequest } from './match.ts';
import type { Eos, Header, TapRegistry, TapStream } from './registry.ts';

// ── Hooks for the HTTP stacks ──
//
// A request is offered to the taps once the proxy knows where it goes: `tapDestination` (the plain
// forwarding path, or the mesh's endpoint pick), or else when its response begins or it ends, with the
// destination it was routed by. Until then only its response is watched. Only the response objects of
// requests that arrive while a tap is installed are wrapped.

const TAP = Symbol('sluice.tap');
type Tapped = { [TAP]?: PendingTap };

interface Resolver {
  cached(host: string): string | null | undefined;
}

type RequestPart = Omit<TapRequest, 'destination' | 'destinationLabels'>;

class PendingTap {
  private readonly taps: TapRegistry;
  private readonly req: RequestPart;
  private readonly fallback: HostPort | undefined;
  private readonly dns: Resolver;
  private readonly headers: () => Header[];
  private readonly startedAt = performance.now();
  private decided = false;
  /** Set once decided, when a tap selected the request. */
  stream: TapStream | undefined;

  constructor(taps: TapRegistry, req: RequestPart, fallback: HostPort | undefined, dns: Resolver, headers: () => Header[]) {
    this.taps = taps;
    this.req = req;
    this.fallback = fallback;
    this.dns = dns;
    this.headers = headers;
  }

  decide(destination?: HostPort, labels?: Readonly<Record<string, string>>): TapStream | undefined {
    if (this.decided) return this.stream;
    this.decided = true;
    let dst = destination ?? this.fallback;
    // A name (HTTP/2 sessions resolve their own): report the address when this thread's cache knows it.
    if (dst !== undefined && net.isIP(dst.host) === 0) {
      const resolved = this.dns.cached(dst.host);
      if (typeof resolved === 'string') dst = { host: resolved, port: dst.port };
    }
    this.stream = this.taps.start({ ...this.req, destination: dst, destinationLabels: labels }, this.headers, this.startedAt);
    return this.stream;
  }
}

/**
 * Where a request observed by `tapHttp1` is sent: `target` is the response. The first call counts (a retry to another endpoint does not move it).
 */
export function tapDestination(target: object, destination: HostPort | undefined, labels?: Readonly<Record<string, string>>): void {
  (target as Tapped)[TAP]?.decide(destination, labels);
}

function pathOnly(target: string): string {
  const q = target.indexOf('?');
  return q < 0 ? target : target.slice(0, q);
}

function headerList(entries: Iterable<[string, unknown]>): Header[] {
  const out: Header[] = [];
  for (const [name, value] of entries) {
    if (name.startsWith(':') || value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) out.push({ name: name.toLowerCase(), value: Buffer.from(String(v)) });
  }
  return out;
}

function rawPairs(raw: readonly string[]): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (let i = 0; i + 1 < raw.length; i += 2) out.push([raw[i] as string, raw[i + 1] as string]);
  return out;
}

/** Headers as given to writeHead: an object, a flat [name, value, …] list, or a list of pairs. */
function headersArg(headers: unknown): Header[] {
  if (headers === undefined || headers === null) return [];
  if (Array.isArray(headers)) {
    if (headers.length > 0 && Array.isArray(headers[0])) return headerList(headers as Array<[string, unknown]>);
    return headerList(rawPairs(headers as string[]));
  }
  return headerList(Object.entries(headers as Record<string, unknown>));
}

function chunkLength(chunk: unknown, encoding: unknown): number {
  if (typeof chunk === 'string') return Buffer.byteLength(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
  if (chunk instanceof Uint8Array) return chunk.byteLength;
  return 0;
}

function grpcStatus(value: unknown): number | undefined {
  if (typeof value !== 'string' || !/^\d+$/.test(value)) return undefined;
  return Number(value);
}

function peerOf(socket: net.Socket | null | undefined): HostPort | undefined {
  const host = socket?.remoteAddress;
  const port = socket?.remotePort;
  return host === undefined || port === undefined ? undefined : { host, port };
}

/**
 * Watches an HTTP/1 request for the installed taps, from its arrival. `authority` and `path` are what it
 * is routed by; `routedTo` the destination it would have without a better one (tapDestination).
 * Wraps this response's writeHead/write/end/addTrailers only, so the proxy's own error answers are
 * seen like forwarded ones.
 */
export function tapHttp1(
  rt: { readonly taps: TapRegistry; readonly dns: Resolver },
  direction: Direction,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  authority: string,
  path: string,
  routedTo: HostPort | undefined,
): void {
  if ((res as Tapped)[TAP] !== undefined) return;
  const pending = new PendingTap(
    rt.taps,
    { direction, source: peerOf(req.socket), method: req.method ?? 'GET', scheme: 'http', authority, path: pathOnly(path) },
    routedTo,
    rt.dns,
    () => headerList(rawPairs(req.rawHeaders)),
  );
  (res as Tapped)[TAP] = pending;
  let bytes = 0;
  let trailers: Header[] | undefined;
  let grpc: number | undefined;
  const writeHead = res.writeHead;
  res.writeHead = function (this: http.ServerResponse, status: number, ...rest: unknown[]) {
    const headers = rest.length > 0 && typeof rest[0] !== 'string' ? rest[0] : rest[1];
    pending.decide()?.responseInit(status, () => headersArg(headers));
    return (writeHead as (...args: unknown[]) => http.ServerResponse).call(this, status, ...rest);
  } as typeof res.writeHead;
  const write = res.write;
  res.write = function (this: http.ServerResponse, chunk: unknown, ...rest: unknown[]) {
    bytes += chunkLength(chunk, rest[0]);
    return (write as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
  } as typeof res.write;
  const end = res.end;
  res.end = function (this: http.ServerResponse, chunk?: unknown, ...rest: unknown[]) {
    if (typeof chunk !== 'function') bytes += chunkLength(chunk, rest[0]);
    return (end as (...args: unknown[]) => http.ServerResponse).call(this, chunk, ...rest);
  } as typeof res.end;
  const addTrailers = res.addTrailers;
  res.addTrailers = function (this: http.ServerResponse, headers) {
    trailers = headersArg(headers);
    grpc = grpcStatus(trailers.find((h) => h.name === 'grpc-status')?.value.toString());
    return addTrailers.call(this, headers);
  };
  const finish = (complete: boolean): void => {
    const stream = pending.decide();
    if (stream === undefined) return;
    stream.bytes = bytes;
    // Closed before the response was complete (cut, or the client left): HTTP/1 has no reset code.
    stream.responseEnd(complete && grpc !== undefined ? { grpc_status_code: grpc } : undefined, () => trailers);
  };
  res.once('finish', () => finish(true));
  res.once('close', () => finish(false));
}
