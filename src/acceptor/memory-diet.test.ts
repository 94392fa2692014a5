// The proxy's memory diet, as a regression test: a proxy that forwards HTTP/1.1 and h2c (no controller,
// no identity, no tap) must not load what it does not use. Each of these costs memory in every pod:
// node:http2 and node:http (the lean engines serve both protocols), node:tls and node:crypto (no
// identity), node:zlib (until a scrape asks for gzip), grpc-js, protobufjs and the X.509 library (no
// controller connection, no tap, no certificate), hdr-histogram-js (no telemetry reports). The proxy runs as a child with a preload
// (test/support/module-log.mjs) that writes the modules each thread loaded.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { closeServer, listen } from '../../test/support/net.ts';
import { startProxy } from '../../test/support/proxy.ts';

const BIN = fileURLToPath(new URL('../../bin/sluice-proxy.js', import.meta.url));
const MODULE_LOG = fileURLToPath(new URL('../../test/support/module-log.mjs', import.meta.url));

const NEVER_BUILTINS = ['http', 'http2', 'https', 'tls', '_tls_wrap', 'crypto', 'zlib', 'internal/deps/undici/undici'];
const NEVER_PACKAGES = ['@grpc', 'protobufjs', 'hdr-histogram-js', '@peculiar', 'piscina', '@kubernetes'];

interface ThreadLog {
  readonly threadId: number;
  readonly builtins: string[];
  readonly urls: string[];
}

function packagesOf(urls: readonly string[]): string[] {
  return [...new Set(urls.filter((u) => u.includes('/node_modules/')).map((u) => u.split('/node_modules/').at(-1)!.split('/')[0]!))].sort();
}

function h1Get(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/', agent: false, timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    }).on('error', reject);
  });
}

function h2Get(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on('error', reject);
    const req = session.request({ ':path': '/' });
    req.on('response', (h) => {
      req.resume();
      req.on('end', () => {
        session.close();
        resolve(Number(h[':status']));
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/** Runs a proxy with `workers`, one HTTP/1.1 request outbound and one h2c request inbound, and returns what each thread loaded. */
async function loadedBy(workers: number): Promise<ThreadLog[]> {
  const h1 = http.createServer((_req, res) => res.end('ok'));
  const h2 = http2.createServer((_req, res) => res.end('ok'));
  const dir = mkdtempSync(join(tmpdir(), 'sluice-modules-'));
  const proxy = await startProxy(
    {
      SLUICE_PROXY_WORKERS: String(workers),
      SLUICE_PROXY_OUTBOUND_FORWARD_ADDR: `127.0.0.1:${await listen(h1)}`,
      SLUICE_PROXY_INBOUND_FORWARD_ADDR: `127.0.0.1:${await listen(h2)}`,
      SLUICE_MODULE_LOG_DIR: dir,
    },
    [process.execPath, '--import', MODULE_LOG, BIN],
  );
  try {
    assert.equal(await h1Get(proxy.outbound.port), 200, proxy.logs());
    assert.equal(await h2Get(proxy.inbound.port), 200, proxy.logs());
    // A scrape that does not ask for gzip (Prometheus does: node:zlib then loads, on that first scrape).
    const scrape = await fetch(`http://127.0.0.1:${proxy.admin.port}/metrics`, { headers: { 'accept-encoding': 'identity' } });
    assert.match(await scrape.text(), /request_total/);
  } finally {
    assert.equal(await proxy.stop('SIGTERM'), 0, proxy.logs());
    await closeServer(h1);
    await closeServer(h2);
  }
  const logs = readdirSync(dir).map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as ThreadLog);
  rmSync(dir, { recursive: true, force: true });
  return logs;
}

describe('what a forwarding proxy loads', { timeout: 60_000 }, () => {
  it('with 0 workers (the data path on the main thread): the lean engines, and none of the heavy modules', async () => {
    const [main, ...others] = await loadedBy(0);
    assert.ok(main !== undefined && others.length === 0);
    assert.deepEqual(NEVER_BUILTINS.filter((m) => main.builtins.includes(m)), []);
    assert.deepEqual(packagesOf(main.urls).filter((p) => NEVER_PACKAGES.includes(p)), []);
    // The requests really took the lean engines.
    assert.ok(main.urls.some((u) => u.endsWith('/workers/http2/connection.ts') || u.includes('/dist-proxy/')), 'the HTTP/2 engine was loaded');
    // No policy to apply (all-unauthenticated, no policy API): the authorization code is not even loaded.
    assert.ok(!main.urls.some((u) => /\/inbound\/(authorizer|authz-decide|refuse-h2)\.ts$|inbound-policy-watch/.test(u)), 'no authorization module was loaded');
  });

  it('with 1 worker: the main thread (acceptor, admin) loads none of them either', async () => {
    const logs = await loadedBy(1);
    const main = logs.find((l) => l.threadId === 0);
    assert.ok(main !== undefined);
    assert.deepEqual(NEVER_BUILTINS.filter((m) => main.builtins.includes(m)), []);
    assert.deepEqual(packagesOf(main.urls).filter((p) => NEVER_PACKAGES.includes(p)), []);
    assert.ok(!main.urls.some((u) => u.includes('/workers/proxy/stacks')), 'the main thread does not load the data-path stacks when workers serve');
  });
});
