// The history's sampling rounds: every `history.intervalMs`, the StatSummary requests of SAMPLE_REQUESTS,
// recorded into the StatHistory. The requests are answered by the public API's own StatSummary handler,
// called in this process through the registry it is registered in (ctx.publicApi): the same answer,
// from whichever backend the public API reads (the embedded store, or Prometheus), without serializing
// ~1 MB of JSON per round, sending it over loopback and parsing it again (docs/performance.md,
// "dashboard history sampling").
import type { StatSummaryRequest, StatSummaryResponse } from '../../api/public-messages.ts';
import type { Logger } from '../../log/logger.ts';
import type { PublicApiRegistry } from '../context.ts';
import { PublicApiUnavailable } from './api-client.ts';
import { SAMPLE_REQUESTS, type StatHistory } from './history.ts';

/** One StatSummary call, answered however the caller reaches the public API. */
export type StatSummaryCall = (request: StatSummaryRequest) => Promise<StatSummaryResponse>;

/**
 * The public API's StatSummary handler as a call in this process, or undefined when no public API is
 * registered. A failing handler (Prometheus unreachable, say) rejects with PublicApiUnavailable, as the
 * HTTP client does for an answer that is not 200, so that callers tell the two apart from their own bugs.
 */
export function inProcessStatSummary(registry: PublicApiRegistry): StatSummaryCall | undefined {
  const handler = registry.unary.get('StatSummary');
  if (handler === undefined) return undefined;
  return async (request) => {
    try {
      return (await handler(request)) as StatSummaryResponse;
    } catch (error) {
      throw new PublicApiUnavailable(`StatSummary failed: ${(error as Error).message}`);
    }
  };
}

export interface SamplerOptions {
  readonly history: StatHistory;
  readonly statSummary: StatSummaryCall;
  readonly log: Logger;
  readonly now?: () => number;
}

/**
 * Samples into the history every `history.intervalMs` until stopped. A failed round is skipped (the
 * sparklines get a gap) and the next one tried: the first failure of a run of them is a warning, the
 * rest debug, and the first round that succeeds again says so.
 */
export class HistorySampler {
  private readonly options: SamplerOptions;
  private running = false;
  private failing = false;
  private timer: NodeJS.Timeout | undefined;
  /** Rounds recorded and rounds that failed, for tests and the log. */
  readonly counters = { recorded: 0, failed: 0 };

  constructor(options: SamplerOptions) {
    this.options = options;
  }

  /** One round: all of SAMPLE_REQUESTS answered, then recorded together (a round is all or nothing). */
  async sampleOnce(): Promise<void> {
    if (this.running) return;
    this.running = true;
    const { history, statSummary, log } = this.options;
    try {
      const t = (this.options.now ?? Date.now)();
      const answers: StatSummaryResponse[] = [];
      for (const request of SAMPLE_REQUESTS) {
        answers.push(await statSummary(request));
        // Each answer is tens of milliseconds of synchronous work at 2,000 proxies: reports that arrived
        // meanwhile are applied between them rather than after the whole round.
        await new Promise((resolve) => setImmediate(resolve));
      }
      history.record(t, answers);
      this.counters.recorded++;
      if (this.failing) log.info('history sampling works again');
      this.failing = false;
    } catch (error) {
      this.counters.failed++;
      const message = (error as Error).message;
      if (this.failing) log.debug('history sample failed', { error: message });
      else log.warn('history sample failed: the sparklines have a gap until StatSummary answers again', { error: message });
      this.failing = true;
    } finally {
      this.running = false;
    }
  }

  /** Samples now and then every interval; sampling runs whether or not a page is open, so that a page opened now has the last ten minutes. */
  start(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => void this.sampleOnce(), this.options.history.intervalMs);
    this.timer.unref();
    void this.sampleOnce();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
