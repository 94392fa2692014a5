// sluice-await against a real HTTP server: it returns once /ready says 200, and gives up after its timeout.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { awaitReady, parseAwaitArgs } from './await.ts';

const BIN = fileURLToPath(new URL('../../bin/sluice-await.js', import.meta.url));

async function readyAfter(ms: number): Promise<{ url: URL; close: () => Promise<void>; hits: () => number }> {
  const readyAt = Date.now() + ms;
  let hits = 0;
  const server = http.createServer((req, res) => {
    hits++;
    res.statusCode = req.url === '/ready' && Date.now() >= readyAt ? 200 : 503;
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: new URL(`http://127.0.0.1:${port}/ready`), hits: () => hits, close: () => new Promise((r) => server.close(() => r())) };
}

describe('sluice-await', { timeout: 15_000 }, () => {
  it('returns once /ready answers 200', async () => {
    const admin = await readyAfter(300);
    const started = Date.now();
    assert.equal(await awaitReady({ url: admin.url, timeoutMs: 5000, intervalMs: 50 }), true);
    assert.ok(Date.now() - started >= 250, 'waited for readiness');
    assert.ok(admin.hits() >= 2, 'polled more than once');
    await admin.close();
  });

  it('gives up after the timeout when nothing listens, saying so', async () => {
    const lines: string[] = [];
    const started = Date.now();
    assert.equal(await awaitReady({ url: new URL('http://127.0.0.1:9/ready'), timeoutMs: 300, intervalMs: 50 }, (l) => lines.push(l)), false);
    assert.ok(Date.now() - started < 2000);
    assert.match(lines[0] ?? '', /not ready after 300 ms \(last answer: none\)/);
  });

  it('reads its flags and refuses bad ones', () => {
    const o = parseAwaitArgs(['--timeout=2m', '--url=http://127.0.0.1:4191/ready']);
    assert.ok(o !== 'help');
    assert.equal(o.timeoutMs, 120_000);
    assert.throws(() => parseAwaitArgs(['--url=https://x/ready']), /only http/);
    assert.throws(() => parseAwaitArgs(['--timeout=soon']), /--timeout/);
  });

  it('the bin exits 0 when ready and 1 on timeout', async () => {
    const admin = await readyAfter(0);
    const run = (args: string[]) =>
      new Promise<number>((resolve) => execFile(process.execPath, [BIN, ...args], { timeout: 10_000 }, (e) => resolve(e === null ? 0 : Number(e.code))));
    assert.equal(await run([`--url=${admin.url.href}`, '--timeout=5s']), 0);
    await admin.close();
    assert.equal(await run([`--url=${admin.url.href}`, '--timeout=200ms', '--interval=50ms']), 1);
  });
});
