// Linkerd's retry budget (tower's `TpsBudget`): every original request deposits `retryRatio` of a retry,
// every retry withdraws one, and on top of the deposits `minRetriesPerSecond × ttl` retries are always
// allowed, so a quiet service can still retry. Deposits and withdrawals count for `ttl` and are then
// forgotten: the window slides in `SLOTS` steps. A retry is allowed while the balance of the window plus
// that floor covers it. Pure: the caller supplies the clock.

export interface RetryBudgetConfig {
  /** Retries allowed per original request, e.g. 0.2 = 20 % more load at most. */
  readonly retryRatio: number;
  readonly minRetriesPerSecond: number;
  readonly ttlMs: number;
}

/** Linkerd's default budget (the destination controller sends it even when there is no profile). */
export const DEFAULT_RETRY_BUDGET: RetryBudgetConfig = { retryRatio: 0.2, minRetriesPerSecond: 10, ttlMs: 10_000 };

/** How finely the window slides: tower keeps 10 slots over the ttl. */
const SLOTS = 10;

export class RetryBudget {
  readonly config: RetryBudgetConfig;
  private readonly now: () => number;
  private readonly slotMs: number;
  private readonly slots = new Float64Array(SLOTS);
  /** The slot number (time / slotMs) that `current` holds. */
  private generation: number;
  private current = 0;
  private readonly reserve: number;

  constructor(config: RetryBudgetConfig, now: () => number) {
    const ttlMs = Math.min(Math.max(config.ttlMs, 1000), 60_000);
    this.config = { retryRatio: Math.max(0, config.retryRatio), minRetriesPerSecond: Math.max(0, config.minRetriesPerSecond), ttlMs };
    this.now = now;
    this.slotMs = ttlMs / SLOTS;
    this.generation = Math.floor(now() / this.slotMs);
    this.reserve = this.config.minRetriesPerSecond * (ttlMs / 1000);
  }

  /** An original request (not a retry) was sent. */
  deposit(): void {
    this.advance();
    this.slots[this.current] = (this.slots[this.current] as number) + this.config.retryRatio;
  }

  /** Takes one retry from the budget; false (and nothing taken) when it is spent. */
  withdraw(): boolean {
    this.advance();
    // The epsilon absorbs float drift: five deposits of 0.2 must buy one retry.
    if (this.balance() + this.reserve < 1 - 1e-9) return false;
    this.slots[this.current] = (this.slots[this.current] as number) - 1;
    return true;
  }

  /** Retries the budget would allow right now. */
  available(): number {
    this.advance();
    return Math.max(0, Math.floor(this.balance() + this.reserve + 1e-9));
  }

  private balance(): number {
    let sum = 0;
    for (let i = 0; i < SLOTS; i++) sum += this.slots[i] as number;
    return sum;
  }

  /** Clears the slots that have slid out of the window since the last call. */
  private advance(): void {
    const generation = Math.floor(this.now() / this.slotMs);
    const steps = generation - this.generation;
    if (steps <= 0) return;
    for (let k = 1; k <= Math.min(steps, SLOTS); k++) this.slots[(this.current + k) % SLOTS] = 0;
    this.current = (this.current + steps) % SLOTS;
    this.generation = generation;
  }
}
