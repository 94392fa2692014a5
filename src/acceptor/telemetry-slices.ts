// The telemetry tick runs on the proxy's main thread, which also serves when there are no worker threads:
// work that grows with the number of series (absorbing deltas, building a report, encoding it) is
// written as generators that pause every few series, and run here either at once (tests, small
// callers) or in slices that give the event loop back once a slice has used its time, so that no single
// block holds the thread for long however many series there are.

/** Work that can pause: each `yield` marks a point where it may be interrupted. */
export type Steps = Iterable<void>;

/** How long one slice may hold the thread before it yields (ms): well below a request's latency budget. */
export const SLICE_MS = 1;

/** Runs `steps` to the end without yielding. */
export function runToEnd(steps: Steps): void {
  for (const _ of steps);
}

/**
 * Runs work in slices of about `sliceMs`, yielding to the event loop between them (setImmediate: I/O
 * waiting to be handled goes first). One slicer runs every phase of a tick, so a slice's time carries
 * from the end of one phase into the next instead of starting afresh. `now` is for tests.
 */
export class TimeSlicer {
  /** Times it gave the thread back (for tests and benchmarks). */
  yields = 0;
  private readonly sliceMs: number;
  private readonly now: () => number;
  private sliceStart: number;

  constructor(sliceMs = SLICE_MS, now: () => number = () => performance.now()) {
    this.sliceMs = sliceMs;
    this.now = now;
    this.sliceStart = now();
  }

  /** Runs `steps` to the end, yielding at its pauses whenever the current slice has used its time. */
  async run(steps: Steps): Promise<void> {
    for (const _ of steps) {
      if (this.now() - this.sliceStart < this.sliceMs) continue;
      await new Promise<void>((resolve) => setImmediate(resolve));
      this.yields++;
      this.sliceStart = this.now();
    }
  }
}
