import { test } from 'node:test';
import assert from 'node:assert/strict';
import { H2Stream } from './stream.ts';
import { StreamTable } from './stream-table.ts';

const stream = (id: number): H2Stream => new H2Stream(id, 65_535, 65_535);

test('get, set, delete and size as a Map, for a client opening and closing streams in order', () => {
  const table = new StreamTable();
  const a = stream(1);
  const b = stream(3);
  table.set(1, a);
  table.set(3, b);
  assert.equal(table.size, 2);
  assert.equal(table.get(1), a);
  assert.equal(table.get(3), b);
  assert.equal(table.get(5), undefined);
  assert.equal(table.delete(1), true);
  assert.equal(table.delete(1), false);
  assert.equal(table.get(1), undefined);
  assert.equal(table.get(3), b);
  assert.equal(table.size, 1);
  // Replacing keeps the count.
  table.set(3, a);
  assert.equal(table.size, 1);
  assert.equal(table.get(3), a);
});

test('values() is a snapshot: deleting while walking it misses nothing', () => {
  const table = new StreamTable();
  for (let id = 1; id < 200; id += 2) table.set(id, stream(id));
  let seen = 0;
  for (const s of table.values()) {
    assert.equal(table.delete(s.id), true);
    seen++;
  }
  assert.equal(seen, 100);
  assert.equal(table.size, 0);
  assert.deepEqual(table.values(), []);
});

test('agrees with a Map over random opens and closes, with colliding ids, long-lived streams and growth', () => {
  let seed = 42;
  const random = (n: number): number => {
    seed = (seed * 1_103_515_245 + 12_345) & 0x7fffffff;
    return seed % n;
  };
  const table = new StreamTable();
  const model = new Map<number, H2Stream>();
  let next = 1;
  for (let step = 0; step < 50_000; step++) {
    const op = random(10);
    if (op < 5 || model.size === 0) {
      // New ids mostly in order; sometimes far ahead or a multiple of the table size away, to collide.
      const id = op === 0 ? next + 2 * 1024 * (1 + random(4)) : next;
      next = Math.max(next, id) + 2;
      const s = stream(id);
      table.set(id, s);
      model.set(id, s);
    } else {
      const ids = [...model.keys()];
      // Close mostly the oldest streams, sometimes any, and sometimes one that is not open.
      const id = op === 9 ? next + 1 : ids[op < 8 ? random(Math.min(4, ids.length)) : random(ids.length)]!;
      assert.equal(table.delete(id), model.delete(id), `delete ${id} at step ${step}`);
    }
    assert.equal(table.size, model.size);
    if (step % 997 === 0) {
      for (const [id, s] of model) assert.equal(table.get(id), s, `get ${id} at step ${step}`);
      assert.deepEqual(new Set(table.values()), new Set(model.values()));
    }
  }
});
