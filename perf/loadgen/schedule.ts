// The open-loop schedule: request i is due at i / rate seconds after the start, evenly spaced,
// whatever happened to the requests before it.

/** When request `i` is due, in nanoseconds after the start. */
export function scheduledAtNs(i: number, rate: number): number {
  return (i * 1e9) / rate;
}

/** How many requests are due by `elapsedNs` after the start (those with scheduledAtNs(i) <= elapsedNs), capped at `total`. */
export function dueCount(elapsedNs: number, rate: number, total: number): number {
  if (elapsedNs < 0) return 0;
  return Math.min(total, Math.floor((elapsedNs * rate) / 1e9) + 1);
}

/** Number of requests in a phase of `seconds` at `rate` per second. */
export function requestCount(rate: number, seconds: number): number {
  return Math.max(0, Math.round(rate * seconds));
}
