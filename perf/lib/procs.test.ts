import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { cpuSeconds, memory, parseStatTicks, parseStatusKb, pause, resume, sleep, start, statFields, stop } from './procs.ts';
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

/** The state letter of /proc/<pid>/stat: R running, S sleeping, T stopped… */
function state(pid: number): string {
  return statFields(readFileSync(`/proc/${pid}/stat`, 'utf8'))[0] ?? '';
}

test('a paused process is stopped until resumed, and stop() ends it even while paused', async () => {
  const p = start('spinner', process.execPath, ['-e', 'setInterval(() => {}, 5)']);
  try {
    pause(p);
    await sleep(50);
    assert.equal(state(p.pid), 'T');
    const cpu = cpuSeconds(p.pid);
    await sleep(300);
    assert.equal(cpuSeconds(p.pid), cpu, 'no CPU while paused');
    resume(p);
    await sleep(50);
    assert.notEqual(state(p.pid), 'T');
    pause(p);
    await sleep(50);
  } finally {
    const t0 = Date.now();
    await stop(p);
    assert.ok(Date.now() - t0 < 2000, 'SIGTERM acted on without waiting for the SIGKILL');
  }
});

test('idle: the process runs under SCHED_IDLE (policy 5 in /proc/<pid>/sched)', async () => {
  const p = start('idler', process.execPath, ['-e', 'setInterval(() => {}, 50)'], { idle: true });
  try {
    await sleep(100);
    const policy = /^policy\s*:\s*(\d+)/m.exec(readFileSync(`/proc/${p.pid}/sched`, 'utf8'));
    assert.equal(policy?.[1], '5');
  } finally {
    await stop(p);
  }
});
