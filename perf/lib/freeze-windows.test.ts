import { test } from 'node:test';
import assert from 'node:assert/strict';
import { freezesWithin, overlapsFreeze, parseFreezeLogs } from './freeze-windows.ts';

test('the logs of both cores merge into one sorted list; overlapping windows become one', () => {
  const core0 = 'start 100.000\n200.000 205.000\n300.000 304.500\n';
  const core1 = 'start 99.000\n203.000 207.000\n150.000 151.000\nnot a line\n';
  assert.deepEqual(parseFreezeLogs([core0, core1]), [
    [150, 151],
    [200, 207],
    [300, 304.5],
  ]);
});

test("kernel housekeeping windows ('k') count with the freezes, and each kind can be read alone", () => {
  const core0 = 'start 100.000\n200.000 205.000\n300.000 301.000 k\n301.000 302.000 k\n';
  const core1 = '204.000 206.000 k\n400.000 401.000 x\n';
  assert.deepEqual(parseFreezeLogs([core0, core1]), [
    [200, 206],
    [300, 302],
  ]);
  assert.deepEqual(parseFreezeLogs([core0, core1], 'freeze'), [[200, 205]]);
  assert.deepEqual(parseFreezeLogs([core0, core1], 'housekeeping'), [
    [204, 206],
    [300, 302],
  ]);
});

test('a sentinel that logged nothing (no freeze, or it could not run) gives no windows', () => {
  assert.deepEqual(parseFreezeLogs(['', 'start 5.000\n']), []);
});

test('a request overlaps a freeze when any part of its life falls in a window', () => {
  const w = parseFreezeLogs(['200 205\n300 304\n']);
  assert.equal(overlapsFreeze(w, 190, 199), false, 'answered before the freeze');
  assert.equal(overlapsFreeze(w, 198, 201), true, 'in flight when it began');
  assert.equal(overlapsFreeze(w, 201, 206), true, 'sent during it');
  assert.equal(overlapsFreeze(w, 206, 210), false, 'sent after it ended: draining the backlog is the chain’s own time');
  assert.equal(overlapsFreeze(w, 250, 350), true, 'spans a whole window');
  assert.equal(overlapsFreeze(w, 305, 400), false, 'after the last window');
  assert.equal(overlapsFreeze([], 0, 1e9), false);
});

test('the freezes inside a measured span are counted with their time inside it', () => {
  const w = parseFreezeLogs(['100 110\n200 204\n300 310\n']);
  assert.deepEqual(freezesWithin(w, 105, 305), { count: 3, frozenMs: 5 + 4 + 5 });
  assert.deepEqual(freezesWithin(w, 120, 190), { count: 0, frozenMs: 0 });
});
