import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { IDLE_UTILIZATION, shouldTrim, startIdleTrim, type EluSource } from './idle-trim.ts';
import { mallocTrim } from '../core/syscalls.ts';

test('trims once per idle period, never while any thread is busy', () => {
  const state = { trimmed: false };
  assert.equal(shouldTrim(state, 0.5), false, 'busy');
  assert.equal(shouldTrim(state, 0.001), true, 'went idle: trim');
  assert.equal(shouldTrim(state, 0.001), false, 'still idle: nothing new to give back');
  assert.equal(shouldTrim(state, IDLE_UTILIZATION), false, 'busy again (at the threshold counts as busy)');
  assert.equal(shouldTrim(state, 0), true, 'idle again after traffic: trim again');
});

/** A thread whose utilization over each interval is scripted. */
function scripted(values: number[]): EluSource {
  let i = 0;
  return {
    eventLoopUtilization(current?: EventLoopUtilization, previous?: EventLoopUtilization): EventLoopUtilization {
      if (current !== undefined && previous !== undefined) return { idle: 0, active: 0, utilization: values[Math.min(i++, values.length - 1)] as number };
      return { idle: 0, active: 0, utilization: 0 };
    },
  };
}

test('the timer trims when every watched thread was idle, and stops when the platform cannot trim', { timeout: 5_000 }, async () => {
  const trims: number[] = [];
  const quiet = scripted([0, 0, 0, 0, 0, 0, 0, 0]);
  const busyThenQuiet = scripted([0.9, 0.9, 0, 0, 0, 0, 0, 0]);
  // (Primed at start: the first tick already judges an interval.)
  const stop = startIdleTrim({ intervalMs: 20, threads: () => [quiet, busyThenQuiet], trim: () => (trims.push(performance.now()), true) });
  await sleep(200);
  stop();
  assert.equal(trims.length, 1, 'one trim: after the busy thread went quiet, not before and not again');

  let calls = 0;
  const stopNever = startIdleTrim({ intervalMs: 10, threads: () => [quiet], trim: () => (calls++, false) });
  await sleep(100);
  stopNever();
  assert.equal(calls, 1, 'a platform without malloc_trim is asked once');
});

test('an interval of 0 turns it off', () => {
  let calls = 0;
  startIdleTrim({ intervalMs: 0, threads: () => [performance], trim: () => (calls++, true) })();
  assert.equal(calls, 0);
});

test('glibc malloc_trim is reachable here', { skip: process.platform !== 'linux' ? 'Linux only' : false }, () => {
  assert.equal(mallocTrim(), true);
});
