// Exponential backoff with jitter, as Linkerd's `ExponentialBackoff`: the n-th delay is
// min(max, min × 2^n), plus a random extra of up to `jitter` × that delay. Used for control-plane
// reconnects (main thread) and for the ejection penalty of failure accrual (workers). Pure: the caller
// supplies the random number, so tests can pin it.

export interface BackoffConfig {
  readonly minMs: number;
  readonly maxMs: number;
  /** 0 for none; 0.5 adds up to half the delay again. Spreads many proxies' retries apart. */
  readonly jitter: number;
}

/** The delay before attempt `attempt` (0-based); `random` in [0, 1). */
export function backoffDelay(config: BackoffConfig, attempt: number, random: number): number {
  const min = Math.max(0, config.minMs);
  const max = Math.max(min, config.maxMs);
  // Past 2^52 the doubling cannot matter any more; capping the exponent keeps 0 × 2^n finite.
  const base = Math.min(max, min * 2 ** Math.min(52, Math.max(0, Math.floor(attempt))));
  const extra = base * Math.max(0, config.jitter) * Math.min(Math.max(random, 0), 1);
  return Math.round(base + extra);
}
