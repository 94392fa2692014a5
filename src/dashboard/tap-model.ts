// Tap's events gathered into requests (a request's three events share an id), and `top`'s table built
// from the finished ones: one row per source, destination, method and path. Pure: tested under Node.
import type { TapEventView } from '../api/dashboard-messages.ts';

export interface TappedRequest {
  /** Order of arrival, for stable keys (proxy stream ids repeat across proxies). */
  readonly seq: number;
  readonly id: string;
  request?: TapEventView;
  response?: TapEventView;
  end?: TapEventView;
}

/** A request failed as Linkerd's `top` counts it: 5xx, a failing gRPC status, or a reset. */
export function failed(r: TappedRequest): boolean {
  const status = r.response?.status ?? 0;
  if (status >= 500) return true;
  const grpc = r.end?.grpcStatus;
  if (grpc !== undefined && ['Unknown', 'DeadlineExceeded', 'Internal', 'Unavailable', 'DataLoss'].includes(grpc)) return true;
  return r.end?.resetCode !== undefined;
}

export class TapRequests {
  /** Newest first. */
  private list: TappedRequest[] = [];
  private readonly open = new Map<string, TappedRequest>();
  private seq = 0;
  readonly limit: number;

  constructor(limit = 200) {
    this.limit = limit;
  }

  get requests(): readonly TappedRequest[] {
    return this.list;
  }

  add(event: TapEventView): void {
    // Ids are per proxy: qualify by both sides so two proxies' stream 1:1 stay apart.
    const key = `${event.direction}|${event.source}|${event.destination}|${event.id}`;
    let entry = this.open.get(key);
    if (event.kind === 'request' || entry === undefined) {
      entry = { seq: this.seq++, id: event.id };
      this.open.set(key, entry);
      this.list.unshift(entry);
      if (this.list.length > this.limit) {
        for (const dropped of this.list.splice(this.limit)) {
          for (const [k, v] of this.open) if (v === dropped) this.open.delete(k);
        }
      }
    }
    if (event.kind === 'request') entry.request = event;
    else if (event.kind === 'response') entry.response = event;
    else {
      entry.end = event;
      this.open.delete(key);
    }
  }

  clear(): void {
    this.list = [];
    this.open.clear();
  }
}

export interface TopRow {
  readonly source: string;
  readonly destination: string;
  readonly method: string;
  readonly path: string;
  count: number;
  failures: number;
  bestUs: number;
  worstUs: number;
  lastUs: number;
}

/** `top`: finished requests grouped, most frequent first. */
export function topRows(requests: readonly TappedRequest[]): TopRow[] {
  const rows = new Map<string, TopRow>();
  // Oldest first, so that "last" is the latest.
  for (let i = requests.length - 1; i >= 0; i--) {
    const r = requests[i] as TappedRequest;
    if (r.request === undefined || r.end === undefined) continue;
    const source = r.request.sourceResource || r.request.source.replace(/:\d+$/, '');
    const destination = r.request.destinationResource || r.request.destination;
    const method = r.request.method ?? '';
    const path = (r.request.path ?? '').split('?')[0] ?? '';
    const key = [source, destination, method, path].join('\u0001');
    const latency = (r.response?.latencyUs ?? 0) + (r.end.durationUs ?? 0);
    let row = rows.get(key);
    if (row === undefined) rows.set(key, (row = { source, destination, method, path, count: 0, failures: 0, bestUs: latency, worstUs: latency, lastUs: latency }));
    row.count++;
    if (failed(r)) row.failures++;
    row.bestUs = Math.min(row.bestUs, latency);
    row.worstUs = Math.max(row.worstUs, latency);
    row.lastUs = latency;
  }
  return [...rows.values()].sort((a, b) => b.count - a.count || a.path.localeCompare(b.path));
}
