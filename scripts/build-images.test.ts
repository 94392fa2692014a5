// The container images, built by scripts/build-images.sh and run with runc as a pod would run them:
// the proxy image in a network namespace of its own (joined to this one by a veth pair) becomes ready
// on 4191, carries a request through 4140 to a server here, and exits 0 on SIGTERM; the controller
// image answers --help and its CLI prints the version.
//
// Needs root, debootstrap, buildah, runc and iproute2 (scripts/system-deps.sh images); skips visibly
// otherwise (fails under CI=true). The first build takes minutes (debootstrap); later runs reuse the
// root filesystems and, when the inputs did not change, the images themselves.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Bundle } from '../test/images/oci-bundle.ts';
import { closeServer } from '../test/support/net.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const VERSION = (JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as { version: string }).version;
const PROXY_IMAGE = `sluice/proxy:${VERSION}`;
const CONTROLLER_IMAGE = `sluice/controller:${VERSION}`;
/** A cold build runs debootstrap twice: many minutes on a loaded machine. A warm one takes seconds. */
const BUILD_TIMEOUT_MS = 40 * 60_000;

// The container's namespace, joined to this one by a veth pair; the addresses are private to the pair.
const NETNS = `sl-img-${process.pid}`;
const HOST_IF = `slimg${process.pid % 100_000}`;
const HOST_IP = '10.231.78.1';
const CONTAINER_IP = '10.231.78.2';

function have(cmd: string, args: readonly string[]): boolean {
  const r = spawnSync(cmd, args, { stdio: 'ignore', timeout: 10_000 });
  return r.error === undefined && r.status === 0;
}

function skipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (debootstrap, buildah chroot isolation, runc, network namespaces)';
  const missing = [
    ['debootstrap', ['--version']],
    ['buildah', ['--version']],
    ['runc', ['--version']],
    ['ip', ['-V']],
  ].filter(([cmd, args]) => !have(cmd as string, args as string[]));
  if (missing.length > 0) return `missing ${missing.map(([cmd]) => cmd).join(', ')}; run: bash scripts/system-deps.sh images`;
  return undefined;
}

const SKIP = skipReason();
if (SKIP !== undefined && process.env['CI'] === 'true') throw new Error(`the image test cannot run on CI: ${SKIP}`);

function must(cmd: string, args: readonly string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} → ${r.status ?? r.signal}\n${r.stderr}`);
  return r.stdout;
}

/** Runs the build script, streaming nothing; resolves with its output and how long it took. */
function buildImages(): Promise<{ output: string; seconds: number }> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [`${ROOT}scripts/build-images.sh`], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], timeout: BUILD_TIMEOUT_MS });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const seconds = Math.round((Date.now() - started) / 1000);
      if (code === 0) resolve({ output, seconds });
      else reject(new Error(`build-images.sh exited ${code} after ${seconds} s:\n${output}`));
    });
  });
}

/** An HTTP/1.1 GET with an explicit Host (fetch cannot set it). */
function get(host: string, port: number, path: string, authority?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port, path, headers: authority === undefined ? {} : { host: authority }, agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${host}:${port} within 5 s`)));
    req.on('error', reject);
  });
}

/** Thrown by a waitFor check to stop waiting at once. */
class GiveUp extends Error {}

async function waitFor<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      if (error instanceof GiveUp) throw error;
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}: ${String(last)}`);
}

describe('container images', { skip: SKIP, timeout: BUILD_TIMEOUT_MS + 5 * 60_000 }, () => {
  const bundles: Bundle[] = [];

  before(async () => {
    const { output, seconds } = await buildImages();
    console.log(`build-images.sh took ${seconds} s:\n${output.trim()}`);
  }, { timeout: BUILD_TIMEOUT_MS });

  after(() => {
    for (const bundle of bundles) bundle.remove();
    spawnSync('ip', ['netns', 'del', NETNS], { stdio: 'ignore' });
  });

  it('the proxy image becomes ready, proxies a request through 4140 and exits 0 on SIGTERM', { timeout: 180_000 }, async () => {
    must('ip', ['netns', 'add', NETNS]);
    must('ip', ['netns', 'exec', NETNS, 'ip', 'link', 'set', 'lo', 'up']);
    // The pair is made here and one end moved into the namespace; deleting the namespace removes both.
    must('ip', ['link', 'add', HOST_IF, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', NETNS]);
    must('ip', ['addr', 'add', `${HOST_IP}/30`, 'dev', HOST_IF]);
    must('ip', ['link', 'set', HOST_IF, 'up']);
    must('ip', ['netns', 'exec', NETNS, 'ip', 'addr', 'add', `${CONTAINER_IP}/30`, 'dev', 'eth0']);
    must('ip', ['netns', 'exec', NETNS, 'ip', 'link', 'set', 'eth0', 'up']);

    const bundle = new Bundle(PROXY_IMAGE, `sluice-proxy-test-${process.pid}`);
    bundles.push(bundle);
    const backend = http.createServer((req, res) => res.end(`backend saw ${req.method} ${req.url} from ${req.socket.remoteAddress}`));
    backend.listen(0, HOST_IP);
    try {
      await new Promise((resolve) => backend.once('listening', resolve));
      const backendPort = (backend.address() as AddressInfo).port;
      const container = bundle.start(`sluice-proxy-test-${process.pid}`, {
        netns: NETNS,
        env: {
          // The admin server as the injector sets it (reachable from outside the pod), and the outbound
          // listener too, as this test's client is outside the container.
          SLUICE_PROXY_ADMIN_LISTEN_ADDR: '0.0.0.0:4191',
          SLUICE_PROXY_OUTBOUND_LISTEN_ADDR: '0.0.0.0:4140',
          SLUICE_PROXY_OUTBOUND_FORWARD_ADDR: `${HOST_IP}:${backendPort}`,
          SLUICE_PROXY_WORKERS: '1',
        },
      });
      try {
        const ready = await waitFor('the proxy in the container to answer /ready', 60_000, async () => {
          if (container.child.exitCode !== null) throw new GiveUp(`the container exited ${container.child.exitCode}:\n${container.output()}`);
          const answer = await get(CONTAINER_IP, 4191, '/ready');
          return answer.status === 200 ? answer : undefined;
        });
        assert.equal(ready.status, 200);
        const answer = await get(CONTAINER_IP, 4140, '/through-the-image', `${HOST_IP}:${backendPort}`);
        assert.equal(answer.status, 200);
        // The backend saw the container's address: the request left through the proxy in the container.
        assert.equal(answer.body, `backend saw GET /through-the-image from ${CONTAINER_IP}`);
      } finally {
        const code = await container.stop('TERM', 15_000);
        assert.equal(code, 0, `the proxy exits 0 on SIGTERM; its output:\n${container.output()}`);
      }
      // `runc run` deleted the container when it exited.
      assert.notEqual(spawnSync('runc', ['state', container.id]).status, 0, 'runc no longer knows the container');
    } finally {
      await closeServer(backend);
    }
  });

  it('the proxy image runs as 2102 and carries sluice-init and both iptables backends', { timeout: 120_000 }, async () => {
    const bundle = new Bundle(PROXY_IMAGE, `sluice-init-test-${process.pid}`);
    bundles.push(bundle);
    const help = await bundle.run(`sluice-init-test-${process.pid}`, { entrypoint: ['/usr/local/bin/sluice-init'], args: ['--help'] }, 60_000);
    assert.equal(help.code, 0, help.output);
    assert.match(help.output, /^Usage: sluice-init/);
    const iptables = await bundle.run(`sluice-iptables-test-${process.pid}`, { entrypoint: ['/bin/sh', '-c'], args: ['id -u && iptables-nft --version && iptables-legacy --version'] }, 60_000);
    assert.equal(iptables.code, 0, iptables.output);
    assert.match(iptables.output, /^2102\n/, 'the image runs as the proxy user');
    assert.match(iptables.output, /\(nf_tables\)/);
    assert.match(iptables.output, /\(legacy\)/);
  });

  it('the controller image answers --help and its CLI prints the version', { timeout: 120_000 }, async () => {
    const bundle = new Bundle(CONTROLLER_IMAGE, `sluice-controller-test-${process.pid}`);
    bundles.push(bundle);
    const help = await bundle.run(`sluice-controller-test-${process.pid}`, { args: ['--help'] }, 60_000);
    assert.equal(help.code, 0, help.output);
    assert.match(help.output, /^Usage: sluice-controller/);
    const version = await bundle.run(`sluice-cli-test-${process.pid}`, { entrypoint: ['/usr/local/bin/sluice'], args: ['version', '--client'] }, 60_000);
    assert.equal(version.code, 0, version.output);
    assert.equal(version.output.trim(), `Client version: ${VERSION}`);
  });
});
