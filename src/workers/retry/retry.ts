// When a failed attempt is sent again (ServiceProfile retries, as Linkerd does them): only on a route
// marked retryable, only while the response has not begun reaching the client, only when the request
// body is at hand to send again (at most 64 KiB of it is kept), and only when the destination's retry
// budget allows. Nothing else caps the attempts: the budget does, and the route timeout bounds the time.
import type { RetryBudget } from './budget.ts';
import type { RetryOutcome } from '../profiles/route-metrics.ts';
import type { Route } from '../profiles/routes.ts';

/** Linkerd buffers up to 64 KiB of a request body for retries (2.11+); bigger requests are not retried. */
export const MAX_REPLAY_BYTES = 64 * 1024;

/** The request body forwarded so far, kept while it may still have to be sent again. */
export class ReplayBuffer {
  chunks: Buffer[] = [];
  bytes = 0;
  /** More than MAX_REPLAY_BYTES arrived: the body can no longer be sent again. */
  overflowed = false;
  private readonly limit: number;

  constructor(limit = MAX_REPLAY_BYTES) {
    this.limit = limit;
  }

  add(chunk: Buffer): void {
    if (this.overflowed) return;
    this.bytes += chunk.length;
    if (this.bytes > this.limit) {
      this.overflowed = true;
      this.chunks = [];
    } else {
      this.chunks.push(chunk);
    }
  }
}

/**
 * Whether a failed attempt goes again. `undefined` when the route does not retry at all (not retryable,
 * or the attempt did not fail); otherwise what happened, for `route_retryable_total`. The budget is
 * only drawn from when everything else allows the retry.
 */
export function decideRetry(
  route: Route,
  failed: boolean,
  responseStarted: boolean,
  replay: ReplayBuffer | undefined,
  budget: RetryBudget,
): RetryOutcome | undefined {
  if (!failed || !route.isRetryable) return undefined;
  if (responseStarted) return 'response_started';
  if (replay === undefined || replay.overflowed) return 'body_too_large';
  if (!budget.withdraw()) return 'no_budget';
  return 'retried';
}
