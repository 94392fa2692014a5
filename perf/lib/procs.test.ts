import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { cpuSeconds, memory, parseStatTicks, parseStatusKb } from './procs.ts';
import { parseMachineBusy } from './noise.ts';

test('utime + stime from a /proc/<pid>/stat line, command names with spaces and parentheses', () => {
  const line = '1234 (node (x) y) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 75 3 4 20 0 11 0 500 1000 2000';
  assert.equal(parseStatTicks(line), 325);
});

test('VmRSS / VmHWM from /proc/<pid>/status', () => {
  const s = 'Name:\tnode\nVmHWM:\t  120000 kB\nVmRSS:\t   65000 kB\n';
  assert.equal(parseStatusKb(s, 'VmRSS'), 65000 * 1024);
  assert.equal(parseStatusKb(s, 'VmHWM'), 120000 * 1024);
  assert.equal(parseStatusKb(s, 'VmSwap'), 0);
});

test('machine busy time: user + nice + system of the cpu line', () => {
  assert.equal(parseMachineBusy('cpu  100 20 30 5000 7 0 9 11 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n'), 1.5);
});

test('this process: CPU seconds and resident memory are readable', () => {
  assert.ok(cpuSeconds(process.pid) >= 0);
  assert.ok(memory(process.pid).rss > 1e6);
  assert.equal(cpuSeconds(2 ** 22 + 7), 0);
  assert.ok(readFileSync('/proc/self/stat', 'utf8').length > 0);
});
