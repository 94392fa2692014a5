// Peak-EWMA latency estimate of one endpoint, as tower's (and so Linkerd's) `PeakEwma`: a new sample
// larger than the estimate replaces it at once (the peak), a smaller one is blended in by an
// exponential weight of the time since the last update, and with no samples the estimate decays
// towards 0 over `decayMs`, so an endpoint that was slow once is tried again eventually. The load
// the balancer compares is the estimate × (requests in flight + 1): an endpoint already busy costs more
// even before its latency shows it.

/** Linkerd's default RTT for an endpoint with no sample yet: neither favoured nor avoided. */
export const DEFAULT_RTT_MS = 30;
/** Linkerd's decay: a latency spike is mostly forgotten after about 10 s. */
export const DEFAULT_DECAY_MS = 10_000;

export class PeakEwma {
  private estimateMs: number;
  private updatedAt: number;
  private readonly decayMs: number;
  private readonly now: () => number;
  /** Requests sent to the endpoint and not answered yet. */
  pending = 0;

  constructor(now: () => number, defaultRttMs = DEFAULT_RTT_MS, decayMs = DEFAULT_DECAY_MS) {
    this.now = now;
    this.estimateMs = defaultRttMs;
    this.decayMs = decayMs;
    this.updatedAt = now();
  }

  /** The current estimate, decayed to now (read-only: does not move the update time). */
  estimate(): number {
    return this.blend(this.now(), 0);
  }

  /** Records a round trip: time from sending a request to its response head (or failure). */
  observe(rttMs: number): void {
    const now = this.now();
    const sample = Math.max(0, rttMs);
    this.estimateMs = this.estimateMs < sample ? sample : this.blend(now, sample);
    this.updatedAt = now;
  }

  /** What the balancer compares; lower is better. */
  cost(): number {
    return this.estimate() * (this.pending + 1);
  }

  private blend(now: number, sample: number): number {
    const elapsed = Math.max(0, now - this.updatedAt);
    const decay = Math.exp(-elapsed / this.decayMs);
    return this.estimateMs * decay + sample * (1 - decay);
  }
}
