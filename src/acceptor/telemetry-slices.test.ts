// Work in slices: every step runs, in order; the thread is given back (other callbacks run) only once a
// slice has used its time, and a slice's time carries from one piece of work into the next.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runToEnd, TimeSlicer } from './telemetry-slices.ts';

/** Work of `n` steps that records each step it takes in `log`. */
function* work(name: string, n: number, log: string[]): Generator<void> {
  for (let i = 0; i < n; i++) {
    log.push(`${name}${i}`);
    yield;
  }
}

describe('runToEnd', () => {
  it('runs every step at once', () => {
    const log: string[] = [];
    runToEnd(work('a', 3, log));
    assert.deepEqual(log, ['a0', 'a1', 'a2']);
  });
});

describe('TimeSlicer', { timeout: 5000 }, () => {
  it('yields once a slice has used its time, letting waiting callbacks run, and carries on where it stopped', async () => {
    let clock = 0;
    const slicer = new TimeSlicer(1, () => clock);
    const log: string[] = [];
    // Each step takes 0.4 ms of the fake clock: a slice holds three steps (0.4, 0.8, 1.2 ≥ 1).
    const timed = function* (): Generator<void> {
      for (const _ of work('s', 7, log)) {
        clock += 0.4;
        yield;
      }
    };
    setImmediate(() => log.push('other'));
    await slicer.run(timed());
    assert.deepEqual(log, ['s0', 's1', 's2', 'other', 's3', 's4', 's5', 's6']);
    assert.equal(slicer.yields, 2);
  });

  it("carries a slice's time from one piece of work into the next", async () => {
    let clock = 0;
    const slicer = new TimeSlicer(1, () => clock);
    const log: string[] = [];
    const steps = (name: string) =>
      (function* (): Generator<void> {
        for (const _ of work(name, 2, log)) {
          clock += 0.4;
          yield;
        }
      })();
    await slicer.run(steps('a'));
    assert.equal(slicer.yields, 0);
    setImmediate(() => log.push('other'));
    await slicer.run(steps('b'));
    // a0, a1 took 0.8 ms: b0 ends the slice.
    assert.deepEqual(log, ['a0', 'a1', 'b0', 'other', 'b1']);
    assert.equal(slicer.yields, 1);
  });

  it('runs work that never pauses to its end without yielding', async () => {
    const slicer = new TimeSlicer(1, () => 0);
    const log: string[] = [];
    await slicer.run(work('x', 100, log));
    assert.equal(log.length, 100);
    assert.equal(slicer.yields, 0);
  });
});
