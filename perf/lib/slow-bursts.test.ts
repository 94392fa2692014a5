import { test } from 'node:test';
import assert from 'node:assert/strict';
import { slowBursts } from './slow-bursts.ts';

test('requests closer than the gap form one burst; the biggest burst comes first', () => {
  const slow = [
    { atMs: 100, us: 1500 },
    { atMs: 500, us: 4000 },
    { atMs: 501, us: 3800 },
    { atMs: 503, us: 3000 },
    { atMs: 900, us: 1200 },
  ];
  assert.deepEqual(slowBursts(slow, 5), [
    { startMs: 500, spanMs: 3, count: 3, worstUs: 4000 },
    { startMs: 100, spanMs: 0, count: 1, worstUs: 1500 },
    { startMs: 900, spanMs: 0, count: 1, worstUs: 1200 },
  ]);
});

test('no slow requests, no bursts; input order does not matter', () => {
  assert.deepEqual(slowBursts([], 5), []);
  assert.equal(slowBursts([{ atMs: 9, us: 1 }, { atMs: 1, us: 2 }, { atMs: 5, us: 3 }], 5).length, 1);
});
