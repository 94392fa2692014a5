// Name resolution for authority routing, cached per thread. The system resolver (getaddrinfo on libuv's
// thread pool) would otherwise run once per upstream connection; cluster DNS answers are stable for
// seconds, and a short cache keeps endpoint changes visible quickly.
import dns from 'node:dns';
import net from 'node:net';

/** How long an answer is reused. Kubernetes' CoreDNS default TTL is 5 s (30 s for some records). */
const POSITIVE_TTL_MS = 5_000;
/** Failures are remembered briefly so a bad name does not queue a lookup per request. */
const NEGATIVE_TTL_MS = 1_000;
const MAX_ENTRIES = 4096;

interface Entry {
  readonly address: string | undefined;
  readonly expires: number;
}

export type Lookup = (host: string, callback: (error: Error | null, address: string | undefined) => void) => void;

const systemLookup: Lookup = (host, callback) => {
  dns.lookup(host, { verbatim: true }, (error, address) => callback(error, address));
};

export class DnsCache {
  private readonly entries = new Map<string, Entry>();
  private readonly inflight = new Map<string, Array<(address: string | undefined) => void>>();
  private readonly lookup: Lookup;
  private readonly now: () => number;

  constructor(lookup: Lookup = systemLookup, now: () => number = Date.now) {
    this.lookup = lookup;
    this.now = now;
  }

  /**
   * An IP for `host` right now if known: a string; `null` if the name recently failed to resolve;
   * `undefined` if a lookup is needed (call `resolve`).
   */
  cached(host: string): string | null | undefined {
    if (net.isIP(host) !== 0) return host;
    const entry = this.entries.get(host);
    if (entry === undefined || entry.expires < this.now()) return undefined;
    return entry.address ?? null;
  }

  /** Resolves `host`, sharing one lookup among concurrent callers; undefined when it does not resolve. */
  resolve(host: string, callback: (address: string | undefined) => void): void {
    const cached = this.cached(host);
    if (cached !== undefined) {
      callback(cached ?? undefined);
      return;
    }
    const waiting = this.inflight.get(host);
    if (waiting !== undefined) {
      waiting.push(callback);
      return;
    }
    this.inflight.set(host, [callback]);
    this.lookup(host, (error, address) => {
      const found = error === null ? address : undefined;
      if (this.entries.size >= MAX_ENTRIES) this.entries.clear();
      this.entries.set(host, { address: found, expires: this.now() + (found === undefined ? NEGATIVE_TTL_MS : POSITIVE_TTL_MS) });
      const callbacks = this.inflight.get(host) ?? [];
      this.inflight.delete(host);
      for (const cb of callbacks) cb(found);
    });
  }
}
