// Consecutive-failures accrual of one endpoint (Linkerd's `balancer.linkerd.io/failure-accrual:
// consecutive`): after `maxFailures` failures in a row the endpoint is ejected for a penalty that starts at
// `minPenaltyMs` and doubles, with jitter, up to `maxPenaltyMs`. When the penalty is over the endpoint is
// *probing*: it takes one request; success makes it ready again (and resets the penalty), failure ejects
// it again for the next, longer, penalty. Pure: the caller supplies the clock and the random numbers.
import { backoffDelay } from '../../core/backoff.ts';
import type { AccrualConfig } from '../../config/destination-config.ts';

export type { AccrualConfig };

export type AccrualState = 'ready' | 'ejected' | 'probing';

export class FailureAccrual {
  private readonly config: AccrualConfig;
  private readonly now: () => number;
  private readonly random: () => number;
  private failures = 0;
  private ejections = 0;
  private ejectedUntil = 0;
  private probeInFlight = false;
  private ejected = false;

  constructor(config: AccrualConfig, now: () => number, random: () => number = Math.random) {
    this.config = config;
    this.now = now;
    this.random = random;
  }

  state(): AccrualState {
    if (!this.ejected) return 'ready';
    return this.now() < this.ejectedUntil ? 'ejected' : 'probing';
  }

  /** Whether the balancer may send a request now (a probing endpoint takes one at a time). */
  available(): boolean {
    const state = this.state();
    return state === 'ready' || (state === 'probing' && !this.probeInFlight);
  }

  /** The balancer sends a request; for a probing endpoint this is the probe. */
  dispatched(): void {
    if (this.state() === 'probing') this.probeInFlight = true;
  }

  /**
   * A request dispatched to it never reached it: this proxy shed it (its queue to the endpoint was
   * full). Neither a success nor a failure; if it was the probe, the next request may probe instead.
   * (Requests sent before an ejection are the only others in flight then: a withdrawal among them
   * costs at most one extra probe.)
   */
  withdrawn(): void {
    if (this.state() === 'probing') this.probeInFlight = false;
  }

  success(): void {
    this.failures = 0;
    this.probeInFlight = false;
    if (this.ejected && this.now() >= this.ejectedUntil) {
      this.ejected = false;
      this.ejections = 0;
    }
  }

  failure(): void {
    this.failures++;
    const probing = this.ejected && this.now() >= this.ejectedUntil;
    this.probeInFlight = false;
    if (this.config.maxFailures <= 0) return;
    if (probing || (!this.ejected && this.failures >= this.config.maxFailures)) {
      this.ejected = true;
      this.ejectedUntil = this.now() + backoffDelay(this.config, this.ejections, this.random());
      this.ejections++;
    }
  }
}
