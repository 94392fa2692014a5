// Tap in a serving thread: the taps the main thread installed (io.linkerd.proxy.tap.Tap/Observe), matched
// against each HTTP request, and the request_init / response_init / response_end events of the requests
// they select, batched back to the main thread.
//
// Nothing here runs unless a tap is installed: the HTTP stacks test `taps.active` (one boolean) before
// calling in.
//
// Events are plain objects in the grpc-js loader's shape of `io.linkerd.proxy.tap.TapEvent` (snake_case,
// enums as names, uint64 as decimal strings), so the main thread sends them as they are.
import type { HostPort } from '../../config/parse.ts';
import type { Direction } from '../../telemetry/proxy-metrics.ts';
import { MatchContext, tcpAddress, testMatch, type TapMatch, type TapRequest } from './match.ts';


// ── Installed taps and the events of the requests they select ──

/** What the main thread sends to every serving thread for one Observe call. */
export interface TapInstall {
  readonly id: number;
  readonly match: TapMatch;
  /** Requests this tap may select in the whole process; 0 = no limit. */
  readonly limit: number;
  /** Shared by every thread: [0] = requests selected so far, so `limit` holds across workers. */
  readonly claimed: Int32Array;
  /** The process's random StreamId base and its shared stream counter. */
  readonly base: number;
  readonly streams: BigInt64Array;
  /** `extract.http.headers` was asked for: events carry request/response headers and trailers. */
  readonly headers: boolean;
}

/** One event for one tap. `done` marks the last event of a request stream (its response_end). */
export interface TapOut {
  readonly tap: number;
  readonly stream: number;
  readonly done: boolean;
  readonly event: object;
}

export type TapSink = (events: TapOut[]) => void;

export interface Header {
  readonly name: string;
  readonly value: Uint8Array;
}

/** The peer's `tls` label when the request says nothing (no identity: metrics say the same). */
const NO_TLS: Readonly<Record<string, string>> = { tls: 'disabled' };

export class TapRegistry {
  /** True while at least one tap is installed: the only thing the request path looks at otherwise. */
  active = false;
  /** Where batched events go: postMessage in a worker, the Tap server itself on the main thread. */
  sink: TapSink = () => {};
  private readonly taps = new Map<number, TapInstall>();
  private pending: TapOut[] = [];
  private scheduled = false;

  install(tap: TapInstall): void {
    this.taps.set(tap.id, tap);
    this.active = true;
  }

  remove(id: number): void {
    this.taps.delete(id);
    this.active = this.taps.size > 0;
  }

  installed(id: number): boolean {
    return this.taps.has(id);
  }

  /**
   * Offers a request to the installed taps; returns its stream (request_init already emitted) when at
   * least one selected it, else undefined.
   */
  start(req: TapRequest, requestHeaders: () => Header[], startedAt: number = performance.now()): TapStream | undefined {
    let selected: TapInstall[] | undefined;
    const ctx = new MatchContext(req);
    for (const tap of this.taps.values()) {
      if (!testMatch(tap.match, ctx)) continue;
      // Claim one of the tap's requests; past the limit the request is not observed.
      if (tap.limit > 0 && Atomics.add(tap.claimed, 0, 1) >= tap.limit) continue;
      (selected ??= []).push(tap);
    }
    if (selected === undefined) return undefined;
    const first = selected[0] as TapInstall;
    const stream = Number(Atomics.add(first.streams, 0, 1n)) + 1;
    return new TapStream(this, selected, req, first.base, stream, requestHeaders, startedAt);
  }

  /** Queues an event; the queue goes to the sink once per turn of the event loop. */
  emit(out: TapOut): void {
    this.pending.push(out);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      const batch = this.pending;
      this.pending = [];
      this.sink(batch);
    });
  }
}

interface Duration {
  seconds: number;
  nanos: number;
}

function duration(ms: number): Duration {
  const clamped = Math.max(0, ms);
  const seconds = Math.floor(clamped / 1000);
  return { seconds, nanos: Math.round((clamped - seconds * 1000) * 1e6) };
}

const REGISTERED_METHODS = new Set(['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'CONNECT', 'HEAD', 'TRACE']);

function methodMessage(method: string): object {
  return REGISTERED_METHODS.has(method) ? { registered: method } : { unregistered: method };
}

function schemeMessage(scheme: string): object {
  return scheme === 'http' ? { registered: 'HTTP' } : scheme === 'https' ? { registered: 'HTTPS' } : { unregistered: scheme };
}

export type Eos = { readonly grpc_status_code: number } | { readonly reset_error_code: number } | undefined;

/** One request selected by one or more taps, from request_init to response_end. */
export class TapStream {
  private readonly registry: TapRegistry;
  private readonly taps: readonly TapInstall[];
  private readonly envelope: Record<string, unknown>;
  private readonly id: { base: number; stream: string };
  private readonly stream: number;
  private readonly start: number;
  private responseStart: number | undefined;
  private ended = false;
  /** Response body bytes sent to the client. */
  bytes = 0;

  constructor(
    registry: TapRegistry,
    taps: readonly TapInstall[],
    req: TapRequest,
    base: number,
    stream: number,
    requestHeaders: () => Header[],
    startedAt: number,
  ) {
    this.registry = registry;
    this.start = startedAt;
    this.taps = taps;
    this.stream = stream;
    this.id = { base, stream: String(stream) };
    const inbound = req.direction === 'inbound';
    this.envelope = {
      source: tcpAddress(req.source),
      source_meta: { labels: inbound ? { ...(req.tls ?? NO_TLS) } : {} },
      destination: tcpAddress(req.destination),
      destination_meta: { labels: inbound ? { ...req.destinationLabels } : { ...req.destinationLabels, ...(req.tls ?? NO_TLS) } },
      proxy_direction: inbound ? 'INBOUND' : 'OUTBOUND',
    };
    const init = { id: this.id, method: methodMessage(req.method), scheme: schemeMessage(req.scheme), authority: req.authority, path: req.path };
    this.emit(false, (headers) => ({ request_init: headers ? { ...init, headers: { headers: requestHeaders() } } : init }));
  }

  responseInit(status: number, headers: () => Header[]): void {
    if (this.responseStart !== undefined || this.ended) return;
    this.responseStart = performance.now();
    const init = { id: this.id, since_request_init: duration(this.responseStart - this.start), http_status: status };
    this.emit(false, (withHeaders) => ({ response_init: withHeaders ? { ...init, headers: { headers: headers() } } : init }));
  }

  responseEnd(eos: Eos, trailers: () => Header[] | undefined): void {
    if (this.ended) return;
    this.ended = true;
    const now = performance.now();
    const end: Record<string, unknown> = {
      id: this.id,
      since_request_init: duration(now - this.start),
      response_bytes: String(this.bytes),
    };
    if (this.responseStart !== undefined) end['since_response_init'] = duration(now - this.responseStart);
    if (eos !== undefined) end['eos'] = eos;
    this.emit(true, (withHeaders) => {
      const t = withHeaders ? trailers() : undefined;
      return { response_end: t === undefined ? end : { ...end, trailers: { headers: t } } };
    });
  }

  private emit(done: boolean, http: (withHeaders: boolean) => object): void {
    let plain: object | undefined;
    let full: object | undefined;
    for (const tap of this.taps) {
      if (!this.registry.installed(tap.id)) continue;
      let event: object;
      if (tap.headers) event = full ??= { ...this.envelope, http: http(true) };
      else event = plain ??= { ...this.envelope, http: http(false) };
      this.registry.emit({ tap: tap.id, stream: this.stream, done, event });
    }
  }
}

