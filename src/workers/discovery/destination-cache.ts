// A worker's view of the control plane: the destinations it routes to, as the main thread reports them.
// A worker asks once per destination (a message), then receives the destination's state whenever it
// changes. A request never waits longer than the initial timeout for a first answer: after that it
// takes today's path (DNS, then the original destination) until an answer arrives. A destination no
// request has used for the idle timeout is released, so the main thread can close its streams.
import net from 'node:net';
import { formatHostPort, type HostPort } from '../../config/parse.ts';
import { inNetworks, type Network } from '../../config/networks.ts';
import type { DiscoveryState } from './state.ts';
import { EndpointSet, type Endpoint } from '../balance/endpoints.ts';
import type { AccrualConfig } from '../balance/failure-accrual.ts';
import { CompiledProfile } from '../profiles/routes.ts';
import { RetryBudget, type RetryBudgetConfig } from '../retry/budget.ts';

/** How a worker talks to the main thread about destinations. */
export interface DiscoveryChannel {
  resolve(authority: string): void;
  release(authority: string): void;
}

export interface DiscoveryOptions {
  readonly suffixes: readonly string[];
  readonly networks: readonly Network[];
  readonly initialTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly accrual: AccrualConfig;
  /** This worker's share of the proxy's retry budget floor (1 / number of workers). */
  readonly budgetShare: number;
  readonly now?: () => number;
  readonly random?: () => number;
  /** Endpoints that left a destination (or were forgotten with it): drain their connections. */
  readonly retired: (endpoints: readonly Endpoint[]) => void;
  readonly invalidRegex?: (authority: string, regex: string) => void;
}

/**
 * Whether a host is worth asking the controller about: a name under one of the suffixes (Linkerd:
 * `svc.cluster.local.`), or an IP in the profile networks. `localhost` never is.
 */
/** How many hosts DestinationCache remembers the discoverability of. */
export const MAX_JUDGED_HOSTS = 1024;

export function isDiscoverable(host: string, suffixes: readonly string[], networks: readonly Network[]): boolean {
  if (net.isIP(host) !== 0) return inNetworks(host, networks);
  const name = host.endsWith('.') ? host.toLowerCase() : `${host.toLowerCase()}.`;
  if (name === 'localhost.' || name.endsWith('.localhost.')) return false;
  for (const suffix of suffixes) {
    if (suffix === '.' || name.endsWith(`.${suffix}`)) return true;
  }
  return false;
}

/** The key a destination is known by on both threads and in GetDestination.path: `host:port`. */
export function destinationKey(target: HostPort): string {
  const host = target.host.endsWith('.') ? target.host.slice(0, -1) : target.host;
  return formatHostPort({ host, port: target.port });
}

export class Destination {
  readonly authority: string;
  readonly endpoints: EndpointSet;
  state: DiscoveryState | undefined;
  profile: CompiledProfile;
  budget: RetryBudget;
  /** Requests (and connections) using the destination right now; it is never released while > 0. */
  active = 0;
  lastUsed: number;
  /** Nothing arrived within the initial timeout: requests take the fallback path until something does. */
  timedOut = false;
  waiters: Array<(dest: Destination | undefined) => void> = [];
  timer: NodeJS.Timeout | undefined;
  profileJson = '';

  constructor(authority: string, endpoints: EndpointSet, budget: RetryBudget, now: number) {
    this.authority = authority;
    this.endpoints = endpoints;
    this.profile = new CompiledProfile(undefined);
    this.budget = budget;
    this.lastUsed = now;
  }
}

export class DestinationCache {
  private readonly channel: DiscoveryChannel;
  private readonly options: DiscoveryOptions;
  private readonly clock: () => number;
  private readonly random: () => number;
  private readonly destinations = new Map<string, Destination>();
  /**
   * Hosts already judged by isDiscoverable, asked per request (its IP test is two regular expressions).
   * Bounded: cleared when full, so a client sending endless distinct authorities cannot grow it.
   */
  private readonly judged = new Map<string, boolean>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(channel: DiscoveryChannel, options: DiscoveryOptions) {
    this.channel = channel;
    this.options = options;
    this.clock = options.now ?? (() => performance.now());
    this.random = options.random ?? Math.random;
    this.sweeper = setInterval(() => this.sweep(), Math.max(50, Math.floor(options.idleTimeoutMs / 2)));
    this.sweeper.unref();
  }

  get size(): number {
    return this.destinations.size;
  }

  /** The clock idle times are measured with. */
  now(): number {
    return this.clock();
  }

  discoverable(host: string): boolean {
    let known = this.judged.get(host);
    if (known === undefined) {
      if (this.judged.size >= MAX_JUDGED_HOSTS) this.judged.clear();
      known = isDiscoverable(host, this.options.suffixes, this.options.networks);
      this.judged.set(host, known);
    }
    return known;
  }

  /**
   * Calls `done` with the destination once it is resolved, or with undefined when the request should
   * take the fallback path. Synchronously when the answer is already known (the common case).
   */
  lookup(authority: string, done: (dest: Destination | undefined) => void): void {
    let dest = this.destinations.get(authority);
    const now = this.now();
    if (dest === undefined) {
      dest = new Destination(
        authority,
        new EndpointSet(this.options.accrual, this.clock, this.random),
        this.budgetFor(undefined),
        now,
      );
      this.destinations.set(authority, dest);
      this.channel.resolve(authority);
    }
    dest.lastUsed = now;
    const state = dest.state;
    if (state !== undefined) {
      done(state.kind === 'resolved' ? dest : undefined);
      return;
    }
    if (dest.timedOut) {
      done(undefined);
      return;
    }
    dest.waiters.push(done);
    if (dest.timer === undefined) {
      const waiting = dest;
      waiting.timer = setTimeout(() => {
        waiting.timer = undefined;
        waiting.timedOut = true;
        this.flush(waiting);
      }, this.options.initialTimeoutMs);
    }
  }

  /** The main thread's latest state of a destination. */
  update(authority: string, state: DiscoveryState): void {
    const dest = this.destinations.get(authority);
    if (dest === undefined) return; // released meanwhile
    dest.state = state;
    if (state.kind === 'resolved') {
      const removed = dest.endpoints.update(state.endpoints);
      if (removed.length > 0) this.options.retired(removed);
      const json = JSON.stringify(state.profile ?? null);
      if (json !== dest.profileJson) {
        dest.profileJson = json;
        dest.profile = new CompiledProfile(state.profile, (regex) => this.options.invalidRegex?.(authority, regex));
        const budget = this.budgetFor(dest.profile.retryBudget);
        if (!sameBudget(budget.config, dest.budget.config)) dest.budget = budget;
      }
    } else {
      const removed = dest.endpoints.clear();
      if (removed.length > 0) this.options.retired(removed);
    }
    this.flush(dest);
  }

  /** Forgets destinations no request has used for the idle timeout. */
  sweep(): void {
    const now = this.now();
    for (const [authority, dest] of this.destinations) {
      if (dest.active > 0 || dest.waiters.length > 0 || now - dest.lastUsed < this.options.idleTimeoutMs) continue;
      this.destinations.delete(authority);
      this.channel.release(authority);
      const removed = dest.endpoints.clear();
      if (removed.length > 0) this.options.retired(removed);
    }
  }

  /** Every endpoint of every destination (for shutdown). */
  *allEndpoints(): Iterable<Endpoint> {
    for (const dest of this.destinations.values()) yield* dest.endpoints.endpoints;
  }

  close(): void {
    clearInterval(this.sweeper);
    for (const dest of this.destinations.values()) {
      clearTimeout(dest.timer);
      dest.timedOut = true;
      this.flush(dest);
    }
  }

  private flush(dest: Destination): void {
    clearTimeout(dest.timer);
    dest.timer = undefined;
    const waiters = dest.waiters;
    dest.waiters = [];
    const resolved = dest.state?.kind === 'resolved' ? dest : undefined;
    for (const done of waiters) done(resolved);
  }

  private budgetFor(config: RetryBudgetConfig | undefined): RetryBudget {
    const base = config ?? new CompiledProfile(undefined).retryBudget;
    return new RetryBudget({ ...base, minRetriesPerSecond: base.minRetriesPerSecond * this.options.budgetShare }, this.clock);
  }
}

function sameBudget(a: RetryBudgetConfig, b: RetryBudgetConfig): boolean {
  return a.retryRatio === b.retryRatio && a.minRetriesPerSecond === b.minRetriesPerSecond && a.ttlMs === b.ttlMs;
}
