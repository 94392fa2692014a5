import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseFreezeLogs } from '../lib/freeze-windows.ts';

const script = join(import.meta.dirname, 'freeze-sentinel.ts');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// A stopped process cannot tell a SIGSTOP from a core that stopped running it: both are time it did
// not get. So stopping the sentinel for 80 ms is how a test makes a freeze.
test('a stretch the sentinel did not run is logged as one freeze window on the monotonic clock', { timeout: 15_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-'));
  const out = join(dir, 'freezes.log');
  const child = spawn(process.execPath, ['--single-threaded', script, '--out', out, '--seconds', '3'], { stdio: 'ignore' });
  try {
    for (let i = 0; i < 100 && !readable(out).startsWith('start '); i++) await sleep(20);
    await sleep(100);
    const before = Number(process.hrtime.bigint()) / 1e6;
    child.kill('SIGSTOP');
    await sleep(80);
    child.kill('SIGCONT');
    const after = Number(process.hrtime.bigint()) / 1e6;
    // Without real-time priority (as here) a busy machine makes short gaps too; the stop is the long one.
    const long = (): Array<readonly [number, number]> => parseFreezeLogs([readable(out)]).filter(([a, b]) => b - a >= 70);
    for (let i = 0; i < 100 && long().length === 0; i++) await sleep(20);
    const windows = long();
    const frozen = windows[0];
    assert.ok(frozen !== undefined, `no window of ≥ 70 ms in ${JSON.stringify(windows)}`);
    assert.ok(frozen[0] >= before - 5 && frozen[1] <= after + 50, `window ${frozen.join('–')} outside ${before}–${after}`);
  } finally {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

// A thread it watches that ran on its core while it slept marks that stretch "k"; one on another core does
// not. A busy loop pinned beside it stands for kdamond (the sentinel reads any PID's /proc the same way).
test('a watched thread running on its core is logged as housekeeping windows, on another core not', { timeout: 20_000 }, async (t) => {
  if (spawnSync('taskset', ['-c', '1', 'true']).status !== 0) return t.skip('needs taskset and a second core');
  const kWindows = async (busyCore: number): Promise<number> => {
    const dir = mkdtempSync(join(tmpdir(), 'sentinel-'));
    const out = join(dir, 'freezes.log');
    const busy = spawn('taskset', ['-c', String(busyCore), process.execPath, '-e', 'for (;;) {}'], { stdio: 'ignore' });
    try {
      const sentinel = spawn('taskset', ['-c', '0', process.execPath, '--single-threaded', script, '--out', out, '--seconds', '1', '--core', '0', '--watch', String(busy.pid)], { stdio: 'ignore' });
      const code = await new Promise((r) => sentinel.once('exit', r));
      assert.equal(code, 0);
      return readable(out).split('\n').filter((l) => l.endsWith(' k')).length;
    } finally {
      busy.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  };
  assert.ok((await kWindows(0)) > 0, 'no housekeeping window with the watched thread on the same core');
  assert.equal(await kWindows(1), 0);
});

test('--watch needs --core', { timeout: 10_000 }, async () => {
  const child = spawn(process.execPath, [script, '--out', '/dev/null', '--seconds', '1', '--watch', String(process.pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (c: Buffer) => (err += c.toString('utf8')));
  const code = await new Promise((r) => child.once('exit', r));
  assert.notEqual(code, 0);
  assert.match(err, /--watch needs --core/);
});

test('bad numbers are refused', { timeout: 10_000 }, async () => {
  const child = spawn(process.execPath, [script, '--out', '/dev/null', '--seconds', '0'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (c: Buffer) => (err += c.toString('utf8')));
  const code = await new Promise((r) => child.once('exit', r));
  assert.notEqual(code, 0);
  assert.match(err, /bad numbers/);
});

function readable(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
