// The dynamic table's ring buffer: newest-first access across wrap-around and growth, the RFC's size
// accounting (octets + 32), eviction oldest first with its listener, and oversized entries.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DynamicTable } from './dynamic-table.ts';

function entries(table: DynamicTable): string[] {
  const list: string[] = [];
  for (let i = 0; i < table.length; i++) list.push(`${table.name(i)}=${table.value(i)}`);
  return list;
}

describe('DynamicTable', () => {
  it('counts name + value octets + 32 per entry and lists the newest first', () => {
    const table = new DynamicTable(4096);
    table.add('a', 'bc');
    table.add('de', '');
    assert.deepEqual(entries(table), ['de=', 'a=bc']);
    assert.equal(table.size, 35 + 34);
  });

  it('evicts the oldest entries to make room, telling the listener each one with its insertion number', () => {
    const evicted: string[] = [];
    const table = new DynamicTable(3 * 34, (name, value, seq) => evicted.push(`${seq}:${name}=${value}`));
    for (const name of ['a', 'b', 'c', 'd', 'e']) table.add(name, 'x');
    assert.deepEqual(entries(table), ['e=x', 'd=x', 'c=x']);
    assert.deepEqual(evicted, ['0:a=x', '1:b=x']);
    assert.equal(table.insertCount, 5);
    assert.ok(table.holdsSeq(2) && !table.holdsSeq(1));
    assert.equal(table.indexOfSeq(4), 0);
    assert.equal(table.indexOfSeq(2), 2);
  });

  it('keeps order through wrap-around and growth of the ring', () => {
    const table = new DynamicTable(40 * 34);
    for (let i = 0; i < 100; i++) table.add('n', String(i % 10)); // 34 octets each: the last 40 stay
    assert.equal(table.length, 40);
    assert.deepEqual(entries(table).slice(0, 3), ['n=9', 'n=8', 'n=7']);
    assert.equal(table.value(39), '0');
    table.setMaxSize(2 * 34);
    assert.deepEqual(entries(table), ['n=9', 'n=8']);
    for (let i = 0; i < 50; i++) table.setMaxSize(4096), table.add('m', String(i));
    assert.equal(table.value(0), '49');
    assert.equal(table.name(51), 'n');
  });

  it('empties itself for an entry larger than the whole table, which is not added (RFC 7541 §4.4)', () => {
    const table = new DynamicTable(100);
    table.add('a', 'b');
    table.add('big', 'v'.repeat(100));
    assert.equal(table.length, 0);
    assert.equal(table.size, 0);
  });

  it('a size of 0 empties it and keeps it empty', () => {
    const table = new DynamicTable(4096);
    table.add('a', 'b');
    table.setMaxSize(0);
    table.add('c', 'd');
    assert.equal(table.length, 0);
  });
});
