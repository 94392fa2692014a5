// Telemetry shared between controller replicas. With several replicas behind `sluice-destination`,
// each proxy's long-lived gRPC connection lands on one of them, so each replica hears only part of
// the mesh. Every replica therefore forwards each report it accepted from a proxy to every other
// replica (tagged, so that it is not forwarded again): every store holds the whole mesh, and `stat`
// answers the same on any replica. Forwarding raw reports, not query results, is what keeps this
// exact: latency percentiles cannot be merged from other replicas' percentiles, but reports can be
// applied anywhere.
//
// Per peer, reports go one at a time in arrival order (the store ignores a sequence number at or
// below the last one it applied, so reordering would lose reports), through a bounded queue: a peer
// that is down costs at most QUEUE_LIMIT reports of memory, and loses what did not fit.
import dns from 'node:dns/promises';
import * as grpc from '@grpc/grpc-js';
import { loadProto, lookup } from '../../api/proto.ts';
import { TELEMETRY_PROTO, TELEMETRY_SERVICE, type ReportRequest } from '../../api/telemetry-messages.ts';
import { formatHostPort, type HostPort } from '../../config/parse.ts';
import type { Logger } from '../../log/logger.ts';
import type { PeerSource } from '../config.ts';

/** gRPC metadata on a forwarded report: its value names the replica that forwarded it. */
export const FORWARDED_HEADER = 'sluice-forwarded-by';
/** How often a DNS peer name is resolved again (replicas come and go). */
const RESOLVE_EVERY_MS = 10_000;
/** Reports held per peer while it is slow or down (a proxy reports about every 5 s per direction). */
const QUEUE_LIMIT = 1_000;
const SEND_DEADLINE_MS = 5_000;

type Resolve = (host: string) => Promise<string[]>;

/** Every IPv4 and IPv6 address of `host` (a headless Service: one per ready replica). */
async function resolveAll(host: string): Promise<string[]> {
  const settled = await Promise.allSettled([dns.resolve4(host), dns.resolve6(host)]);
  const found = settled.flatMap((r) => (r.status === 'fulfilled' ? r.value : []));
  if (found.length === 0 && settled[0].status === 'rejected') throw settled[0].reason as Error;
  return found;
}

export interface PeerCounters {
  forwarded: number;
  failed: number;
  dropped: number;
}

class Peer {
  readonly addr: string;
  private readonly client: grpc.Client & Record<string, Function>;
  private readonly queue: ReportRequest[] = [];
  private sending = false;
  private closed = false;
  private readonly self: string;
  private readonly counters: PeerCounters;
  private readonly log: Logger;

  constructor(addr: string, self: string, counters: PeerCounters, log: Logger) {
    this.addr = addr;
    this.self = self;
    this.counters = counters;
    this.log = log;
    const Client = lookup<grpc.ServiceClientConstructor>(loadProto(TELEMETRY_PROTO), TELEMETRY_SERVICE);
    this.client = new Client(addr, grpc.credentials.createInsecure()) as grpc.Client & Record<string, Function>;
  }

  enqueue(report: ReportRequest): void {
    if (this.closed) return;
    if (this.queue.length >= QUEUE_LIMIT) {
      this.queue.shift();
      this.counters.dropped++;
    }
    this.queue.push(report);
    if (!this.sending) void this.drain();
  }

  private async drain(): Promise<void> {
    this.sending = true;
    while (!this.closed && this.queue.length > 0) {
      const report = this.queue[0] as ReportRequest;
      const error = await this.send(report);
      this.queue.shift();
      if (error === undefined) this.counters.forwarded++;
      else {
        this.counters.failed++;
        this.log.debug('cannot forward a telemetry report to a peer', { peer: this.addr, error: error.message });
      }
    }
    this.sending = false;
  }

  private send(report: ReportRequest): Promise<Error | undefined> {
    const metadata = new grpc.Metadata();
    metadata.set(FORWARDED_HEADER, this.self);
    return new Promise((resolve) => {
      this.client['Report']?.(report, metadata, { deadline: Date.now() + SEND_DEADLINE_MS }, (error: grpc.ServiceError | null) =>
        resolve(error ?? undefined),
      );
    });
  }

  close(): void {
    this.closed = true;
    this.queue.length = 0;
    this.client.close();
  }
}

export interface PeerForwarderOptions {
  readonly source: PeerSource;
  /**
   * This replica's address and proxy API port: never its own peer (a headless Service's answer
   * includes it). Only that pair is left out, so replicas sharing an address on other ports still pair.
   */
  readonly podIp: string | undefined;
  readonly ownPort: number;
  /** Names this replica in the forwarded reports' metadata (its pod name, or its address). */
  readonly self: string;
  readonly log: Logger;
  readonly resolve?: Resolve;
}

export class PeerForwarder {
  readonly counters: PeerCounters = { forwarded: 0, failed: 0, dropped: 0 };
  private readonly peers = new Map<string, Peer>();
  private readonly options: PeerForwarderOptions;
  private timer: NodeJS.Timeout | undefined;
  private lastResolveError = '';

  constructor(options: PeerForwarderOptions) {
    this.options = options;
    const { source } = options;
    if (source.kind === 'static') this.setPeers(source.addrs.filter((a) => !this.isSelf(a)).map(formatHostPort));
    if (source.kind === 'dns') {
      void this.refresh(source.host, source.port);
      this.timer = setInterval(() => void this.refresh(source.host, source.port), RESOLVE_EVERY_MS);
      this.timer.unref();
    }
  }

  /** The peers reports currently go to, sorted. */
  get addresses(): string[] {
    return [...this.peers.keys()].sort();
  }

  forward(report: ReportRequest): void {
    for (const peer of this.peers.values()) peer.enqueue(report);
  }

  close(): void {
    clearInterval(this.timer);
    for (const peer of this.peers.values()) peer.close();
    this.peers.clear();
  }

  private async refresh(host: string, port: number): Promise<void> {
    try {
      const ips = await (this.options.resolve ?? resolveAll)(host);
      this.lastResolveError = '';
      this.setPeers(ips.map((ip): HostPort => ({ host: ip, port })).filter((a) => !this.isSelf(a)).map(formatHostPort));
    } catch (error) {
      // NXDOMAIN while the headless Service has no ready endpoints yet is normal at start; say it once.
      const message = (error as Error).message;
      if (message !== this.lastResolveError) this.options.log.info('cannot resolve controller peers yet', { name: host, error: message });
      this.lastResolveError = message;
    }
  }

  private isSelf(addr: HostPort): boolean {
    return addr.host === this.options.podIp && addr.port === this.options.ownPort;
  }

  private setPeers(addrs: readonly string[]): void {
    const wanted = new Set(addrs);
    for (const [addr, peer] of this.peers) {
      if (wanted.has(addr)) continue;
      peer.close();
      this.peers.delete(addr);
      this.options.log.info('controller peer gone', { peer: addr });
    }
    for (const addr of wanted) {
      if (this.peers.has(addr)) continue;
      this.peers.set(addr, new Peer(addr, this.options.self, this.counters, this.options.log));
      this.options.log.info('controller peer found', { peer: addr });
    }
  }
}
