import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatHotSpots, topFromClinicSamples, topFromCpuProfiles } from './profile-summary.ts';

test('cpuprofile: self time per function summed over threads, sorted', () => {
  const frame = (functionName: string, url: string, lineNumber: number) => ({ functionName, url, lineNumber });
  const a = {
    nodes: [
      { id: 1, callFrame: frame('(root)', '', -1) },
      { id: 2, callFrame: frame('parse', 'file:///repo/src/http1.ts', 9) },
      { id: 3, callFrame: frame('', 'file:///repo/src/x.ts', 0) },
      { id: 4, callFrame: frame('(idle)', '', -1) },
    ],
    samples: [2, 2, 3, 1, 4],
    timeDeltas: [1000, 1000, 500, 500, 7000],
  };
  const b = { nodes: [{ id: 7, callFrame: frame('parse', 'file:///repo/src/http1.ts', 9) }], samples: [7], timeDeltas: [2000] };
  const r = topFromCpuProfiles([a, b], 10, '/repo');
  assert.equal(r.total, 5);
  assert.equal(r.idle, 7);
  assert.deepEqual(r.spots[0], { name: 'parse src/http1.ts:10', self: 4, percent: 80 });
  assert.equal(r.spots.length, 3);
  assert.ok(r.spots.some((s) => s.name === '(anonymous) src/x.ts:1'));
  assert.match(formatHotSpots(r.spots, 'ms'), /80\.0 %\s+4\.0 ms  parse src\/http1\.ts:10/);
});

test('clinic samples: the leaf frame takes the tick', () => {
  const js = (name: string) => ({ name, type: 'JS' });
  const samples = [[js('main'), js('onData /repo/src/a.ts:3:1')], [js('main'), js('onData /repo/src/a.ts:3:1')], [], [js('main')]];
  const r = topFromClinicSamples(samples, 5, '/repo');
  assert.equal(r.total, 4);
  assert.deepEqual(r.spots[0], { name: 'onData src/a.ts:3:1 [JS]', self: 2, percent: 50 });
  assert.ok(r.spots.some((s) => s.name === '(no stack)'));
});
