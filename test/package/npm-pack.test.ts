// The package as a user gets it: `npm pack` here, `npm install --omit=dev <tarball>` in a fresh project,
// then every `bin` entry run from that project's node_modules/.bin. Node does not strip types under
// node_modules, so this shows the tarball carries the compiled JavaScript (dist/) and that the bin
// scripts pick it (bin/entry.js), with production dependencies only.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { closeServer, listen } from '../support/net.ts';
import { startProxy } from '../support/proxy.ts';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
/** The repository's Node 24 (the devDependency `node`); the fresh project has no Node of its own. */
const NODE_BIN_DIR = join(ROOT, 'node_modules', '.bin');
/** npm pack compiles src/ (prepack), npm install may reach the registry: minutes on a loaded machine. */
const SETUP_TIMEOUT_MS = 300_000;

/** An HTTP/1.1 GET sent to the proxy's outbound port for `authority` (fetch cannot set Host). */
function getThrough(proxyPort: number, authority: string, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: proxyPort, path, headers: { host: authority }, agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer through the proxy within 5 s`)));
    req.on('error', reject);
  });
}

describe('the package installed from `npm pack`', { timeout: SETUP_TIMEOUT_MS + 60_000 }, () => {
  let work = '';
  let tarball = '';
  let project = '';
  /** PATH with Node 24 first, as `npm test` has it, so the bin scripts' `#!/usr/bin/env node` finds it. */
  let env: NodeJS.ProcessEnv = {};

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'sluice-pack-'));
    env = { ...process.env, PATH: `${NODE_BIN_DIR}:${process.env['PATH'] ?? ''}` };
    const packed = await run('npm', ['pack', '--silent', '--pack-destination', work], { cwd: ROOT, env, timeout: SETUP_TIMEOUT_MS });
    tarball = join(work, packed.stdout.trim().split('\n').at(-1) ?? '');
    project = join(work, 'project');
    await run('mkdir', [project]);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'uses-sluice', private: true }));
    await run('npm', ['install', '--omit=dev', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', tarball], {
      cwd: project,
      env,
      timeout: SETUP_TIMEOUT_MS,
    });
  }, { timeout: 2 * SETUP_TIMEOUT_MS });

  after(() => {
    if (work !== '') rmSync(work, { recursive: true, force: true });
  });

  const bin = (name: string): string => join(project, 'node_modules', '.bin', name);

  it('ships the compiled JavaScript, the bin scripts and the protos, and no TypeScript', async () => {
    const { stdout } = await run('tar', ['-tzf', tarball]);
    const files = stdout.trim().split('\n');
    for (const expected of ['package/package.json', 'package/bin/sluice-proxy.js', 'package/bin/entry.js', 'package/dist/acceptor/main.js', 'package/dist/workers/main.js', 'package/dist-proxy/acceptor/main.js', 'package/dist-proxy/workers/main.js', 'package/proto/destination.proto', 'package/dist/dashboard/index.html', 'package/dist/dashboard/app.js', 'package/dist/dashboard/app.css']) {
      assert.ok(files.includes(expected), `${expected} is in the tarball`);
    }
    assert.deepEqual(files.filter((f) => f.endsWith('.ts')), [], 'no TypeScript in the tarball');
    assert.deepEqual(files.filter((f) => /^package\/(src|test|perf|scripts|demo)\//.test(f)), [], 'no sources, tests or tools');
  });

  it('installs production dependencies only', () => {
    assert.ok(existsSync(join(project, 'node_modules', '@grpc', 'grpc-js')));
    for (const dev of ['typescript', 'fast-check', 'autocannon', 'node']) {
      assert.ok(!existsSync(join(project, 'node_modules', dev)), `${dev} (a devDependency) is not installed`);
    }
  });

  it('sluice version --client prints the package version', async () => {
    const { stdout } = await run(bin('sluice'), ['version', '--client'], { cwd: project, env, timeout: 30_000 });
    assert.equal(stdout.trim(), `Client version: ${VERSION}`);
  });

  it('sluice-controller --help and sluice-init --help answer with their usage', async () => {
    const controller = await run(bin('sluice-controller'), ['--help'], { cwd: project, env, timeout: 30_000 });
    assert.match(controller.stdout, /^Usage: sluice-controller/);
    const init = await run(bin('sluice-init'), ['--help'], { cwd: project, env, timeout: 30_000 });
    assert.match(init.stdout, /^Usage: sluice-init/);
  });

  it('sluice-proxy runs the bundled proxy (dist-proxy/ alone, worker thread included): ready, proxies a request, stops on SIGTERM', async (t) => {
    const backend = http.createServer((req, res) => res.end(`backend saw ${req.method} ${req.url}`));
    const backendPort = await listen(backend);
    // Without the unbundled proxy modules, only the bundle can answer.
    const installed = join(project, 'node_modules', 'sluice', 'dist');
    for (const dir of ['acceptor', 'workers']) renameSync(join(installed, dir), join(installed, `${dir}.away`));
    t.after(() => {
      for (const dir of ['acceptor', 'workers']) renameSync(join(installed, `${dir}.away`), join(installed, dir));
    });
    const proxy = await startProxy(
      { PATH: env['PATH'] ?? '', SLUICE_PROXY_OUTBOUND_FORWARD_ADDR: `127.0.0.1:${backendPort}` },
      [bin('sluice-proxy')],
    );
    try {
      const ready = await fetch(`http://127.0.0.1:${proxy.admin.port}/ready`, { signal: AbortSignal.timeout(5000) });
      assert.equal(ready.status, 200);
      const answer = await getThrough(proxy.outbound.port, `127.0.0.1:${backendPort}`, '/through-the-package');
      assert.equal(answer, 'backend saw GET /through-the-package');
    } finally {
      assert.equal(await proxy.stop('SIGTERM'), 0, proxy.logs());
      await closeServer(backend);
    }
  });
});
