// The endpoints of one destination in one worker: each with its latency estimate, requests in flight and
// failure accrual, kept across updates (an endpoint that stays keeps what was learnt about it), and the
// per-request choice among them.
import { formatHostPort, type HostPort } from '../../config/parse.ts';
import { labels } from '../../telemetry/metrics.ts';
import { serverTlsLabels } from '../../telemetry/proxy-metrics.ts';
import type { PeerIdentity } from '../tls/mesh-credentials.ts';
import { pickP2c, type Candidate } from './balancer.ts';
import type { EndpointData } from '../discovery/state.ts';
import { FailureAccrual, type AccrualConfig } from './failure-accrual.ts';
import { PeakEwma } from './peak-ewma.ts';

/** `dst_*` labels from an endpoint's metric labels; keys sorted, so a label string is stable. */
export function dstLabels(data: Readonly<Record<string, string>>): string {
  const out: Record<string, string> = {};
  for (const key of Object.keys(data).sort()) out[`dst_${key.replace(/[^a-zA-Z0-9_]/g, '_')}`] = data[key] as string;
  return labels(out);
}

export class Endpoint implements Candidate {
  readonly addr: HostPort;
  /** `host:port`, the key of its connections. */
  readonly key: string;
  dstLabels: string;
  /** The Destination service's metric labels, unprefixed (for tap events). */
  labels: Readonly<Record<string, string>>;
  /** The identity it must prove over mesh TLS; undefined outside the mesh (plaintext). */
  tlsIdentity: PeerIdentity | undefined;
  /** `tls="true",server_id="…"`, preformatted for its metrics while it has an identity. */
  tlsLabels: string | undefined;
  /** Destination's `h2` protocol hint: a proxy that takes HTTP/1 across the mesh hop as HTTP/2. */
  h2: boolean;
  readonly ewma: PeakEwma;
  readonly accrual: FailureAccrual;
  /** Gone from the destination: no new requests; what is in flight finishes. */
  removed = false;

  constructor(data: EndpointData, accrual: AccrualConfig, now: () => number, random: () => number) {
    this.addr = { host: data.host, port: data.port };
    this.key = formatHostPort(this.addr);
    this.dstLabels = dstLabels(data.labels);
    this.labels = data.labels;
    this.tlsIdentity = data.tlsIdentity;
    this.tlsLabels = data.tlsIdentity === undefined ? undefined : serverTlsLabels(data.tlsIdentity.identity);
    this.h2 = data.protocolHint === 'h2';
    this.ewma = new PeakEwma(now);
    this.accrual = new FailureAccrual(accrual, now, random);
  }

  available(): boolean {
    return !this.removed && this.accrual.available();
  }

  cost(): number {
    return this.ewma.cost();
  }

  /** A request (or connection) is sent to this endpoint. */
  dispatched(): void {
    this.ewma.pending++;
    this.accrual.dispatched();
  }

  /** Its response head arrived (or it failed) after `rttMs`: it no longer counts as pending. */
  answered(rttMs: number): void {
    this.ewma.pending = Math.max(0, this.ewma.pending - 1);
    this.ewma.observe(rttMs);
  }

  /** A request dispatched to it was shed by this proxy before it was sent: no latency, no outcome. */
  withdrawn(): void {
    this.ewma.pending = Math.max(0, this.ewma.pending - 1);
    this.accrual.withdrawn();
  }

  /** A TCP connection is established after `rttMs`; it stays pending (load) until it closes. */
  connected(rttMs: number): void {
    this.ewma.observe(rttMs);
  }

  /** A TCP connection to it closed. */
  closed(): void {
    this.ewma.pending = Math.max(0, this.ewma.pending - 1);
  }

  /** How the exchange ended, as the route classifies it. */
  outcome(failed: boolean): void {
    if (failed) this.accrual.failure();
    else this.accrual.success();
  }
}

export type Pick = Endpoint | 'no_endpoints' | 'fail_fast';

export class EndpointSet {
  endpoints: Endpoint[] = [];
  private readonly accrual: AccrualConfig;
  private readonly now: () => number;
  private readonly random: () => number;

  constructor(accrual: AccrualConfig, now: () => number, random: () => number = Math.random) {
    this.accrual = accrual;
    this.now = now;
    this.random = random;
  }

  /** Replaces the set; returns the endpoints that left it (their connections should be drained). */
  update(data: readonly EndpointData[]): Endpoint[] {
    const previous = new Map(this.endpoints.map((e) => [e.key, e]));
    const next: Endpoint[] = [];
    const seen = new Set<string>();
    for (const d of data) {
      const key = formatHostPort({ host: d.host, port: d.port });
      if (seen.has(key)) continue; // listed twice
      seen.add(key);
      let endpoint = previous.get(key);
      if (endpoint === undefined) {
        endpoint = new Endpoint(d, this.accrual, this.now, this.random);
      } else {
        endpoint.dstLabels = dstLabels(d.labels);
        endpoint.labels = d.labels;
        endpoint.h2 = d.protocolHint === 'h2';
        if (endpoint.tlsIdentity?.identity !== d.tlsIdentity?.identity || endpoint.tlsIdentity?.serverName !== d.tlsIdentity?.serverName) {
          endpoint.tlsIdentity = d.tlsIdentity;
          endpoint.tlsLabels = d.tlsIdentity === undefined ? undefined : serverTlsLabels(d.tlsIdentity.identity);
        }
        previous.delete(key);
      }
      next.push(endpoint);
    }
    this.endpoints = next;
    const removed = [...previous.values()];
    for (const endpoint of removed) endpoint.removed = true;
    return removed;
  }

  /** Power of two choices over peak-EWMA among available endpoints. */
  pick(): Pick {
    if (this.endpoints.length === 0) return 'no_endpoints';
    return pickP2c(this.endpoints, this.random) ?? 'fail_fast';
  }

  clear(): Endpoint[] {
    return this.update([]);
  }
}
