// End to end, for real: two "pods" as network namespaces joined by a veth pair. In each, sluice-init
// writes the iptables rules and a Sluice proxy runs as uid 2102. In pod B run HTTP/1.1, h2c, gRPC and
// raw-TCP servers; in pod A the "app" (uid 1000) calls them by B's address, knowing nothing of the
// proxies. Every call must pass app → A's outbound proxy → B's inbound proxy → server, which shows in
// (1) the server seeing B's own address as the peer (the inbound proxy connected to it) and
// (2) each proxy's /metrics holding a series for B's address and port (the original destination).
//
// The checkout may live anywhere, a 0700 home directory included: the processes that run as uid 1000
// and 2102 see it bind-mounted under a world-traversable directory (shared-checkout.ts).
// Needs root, iproute2, iptables, setpriv, unshare and curl; skips visibly otherwise (fails under CI).
// Namespaces and every process started here are removed in `after`, whatever happened.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import {
  addNetns,
  delNetns,
  findSamples,
  GiveUp,
  linkNetns,
  must,
  NODE,
  parsePrometheus,
  Proc,
  run,
  runAsync,
  waitFor,
  type Sample,
  type Where,
} from './netns.ts';
import { SharedCheckout } from './shared-checkout.ts';
import { missingRoot, missingTools, requirementsMet } from '../support/requirements.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PROXY_BIN = `${ROOT}bin/sluice-proxy.js`;
const INIT_BIN = `${ROOT}bin/sluice-init.js`;
const SERVERS = `${ROOT}test/e2e/servers.ts`;
const APP = `${ROOT}test/e2e/app.ts`;

const NS_A = `sl-a-${process.pid}`;
const NS_B = `sl-b-${process.pid}`;
// The addresses exist only inside the two namespaces, so they cannot clash with the host's.
const A_IP = '10.231.77.1';
const B_IP = '10.231.77.2';
const PREFIX = 24;
const PORT = { http1: 18080, h2c: 18082, grpc: 18083, tcp: 18084 } as const;
const APP_UID = 1000;
const PROXY_UID = 2102;
const ADMIN = 'http://127.0.0.1:4191';

const MISSING =
  missingRoot('network namespaces, iptables, running as uid 1000 and 2102') ??
  missingTools([['ip', ['-V']], 'iptables', 'iptables-save', 'setpriv', 'unshare', 'curl']);

/** uid 1000 and 2102 must be able to run Node and read what they run, through the shared checkout. */
function checkAccess(shared: SharedCheckout, uid: number, files: readonly string[]): void {
  const seen = files.map((f) => shared.path(f));
  const script = `const fs=require('fs');for(const f of ${JSON.stringify(seen)})fs.accessSync(f,fs.constants.R_OK)`;
  const r = run({ uid, shared }, shared.node, ['-e', script]);
  if (r.status !== 0) {
    throw new Error(
      `uid ${uid} cannot run ${NODE} or read ${files.join(', ')} (seen as ${shared.root}): ${r.stderr.trim()}\n` +
        'The checkout is bind-mounted where every user can reach it, but its files must be world-readable ' +
        '(a checkout made with umask 077 is not).',
    );
  }
}

async function adminGet(ns: string, path: string): Promise<{ code: string; body: string }> {
  const r = await runAsync({ ns }, 'curl', ['-sS', '--max-time', '3', '-w', '\n%{http_code}', `${ADMIN}${path}`], { timeoutMs: 5000 });
  const i = r.stdout.lastIndexOf('\n');
  return { code: r.stdout.slice(i + 1), body: r.stdout.slice(0, Math.max(0, i)) };
}

function parseJson(text: string, what: string): Record<string, unknown> {
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new Error(`${what}: not JSON: ${JSON.stringify(text.slice(0, 500))}`);
  }
}

describe('transparent proxying between two pods (network namespaces, iptables, uid 2102 proxies)', { timeout: 180_000 }, () => {
  const procs: Proc[] = [];
  const namespaces: string[] = [];
  let servers: Proc | undefined;
  const stages = new Map<string, boolean>();
  let sharedCheckout: SharedCheckout | undefined;
  /** The checkout as uid 1000 and 2102 see it; made in `before`. */
  const shared = (): SharedCheckout => {
    if (sharedCheckout === undefined) throw new Error('the shared checkout was not set up');
    return sharedCheckout;
  };

  /** The logs of everything running, for failure messages. */
  const logs = (): string => procs.map((p) => p.describe().slice(-4000)).join('\n');

  /** Fails the current test at once when an earlier stage it depends on did not pass. */
  const requireStages = (...names: string[]): void => {
    for (const name of names) {
      if (stages.get(name) !== true) throw new Error(`not run: the "${name}" stage did not pass (see its failure above)`);
    }
  };

  const app = (): Where => ({ ns: NS_A, uid: APP_UID, shared: shared() });

  before(() => {
    if (MISSING !== undefined) return;
    sharedCheckout = new SharedCheckout(ROOT, NODE);
    // Backstop for a runner that dies without running `after`: best effort, synchronous.
    process.once('exit', () => {
      for (const p of procs) {
        if (!p.running || p.pid === undefined) continue;
        try {
          process.kill(-p.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      for (const ns of namespaces) delNetns(ns);
    });
  });

  after(async () => {
    for (const p of [...procs].reverse()) await p.stop();
    // The mount points are empty: the mounts lived in the stopped processes' namespaces only.
    sharedCheckout?.remove();
    const errors = namespaces.splice(0).map(delNetns).filter((e) => e !== undefined);
    if (errors.length > 0) console.error(`e2e cleanup: ${errors.join('; ')}`);
  });

  it('builds two pods: namespaces with loopback up, joined by a veth pair', (t) => {
    if (!requirementsMet(t, MISSING)) return;
    for (const ns of [NS_A, NS_B]) {
      addNetns(ns);
      namespaces.push(ns);
    }
    linkNetns({ ns: NS_A, ip: A_IP }, { ns: NS_B, ip: B_IP }, PREFIX);
    assert.match(must({ ns: NS_A }, 'ip', ['-4', 'addr', 'show', 'dev', 'veth0']), new RegExp(`inet ${A_IP}/${PREFIX}`));
    assert.match(must({ ns: NS_B }, 'ip', ['-4', 'addr', 'show', 'dev', 'veth0']), new RegExp(`inet ${B_IP}/${PREFIX}`));
    stages.set('pods', true);
  });

  it('starts the servers in pod B (uid 1000) and reaches them directly from pod A before any rules', async (t) => {
    if (!requirementsMet(t, MISSING)) return;
    requireStages('pods');
    checkAccess(shared(), APP_UID, [SERVERS, APP, `${ROOT}node_modules/@grpc/grpc-js/package.json`]);
    servers = new Proc('servers (pod B, uid 1000)', { ns: NS_B, uid: APP_UID, shared: shared() }, shared().node, [
      shared().path(SERVERS), '--host', B_IP, '--http1', String(PORT.http1), '--h2c', String(PORT.h2c), '--grpc', String(PORT.grpc), '--tcp', String(PORT.tcp),
    ]);
    procs.push(servers);
    await servers.waitForOutput(/^READY /m, 15_000);

    // Without sluice-init the app's connection arrives from A's own address.
    const r = await runAsync(app(), 'curl', ['-sS', '--max-time', '5', `http://${B_IP}:${PORT.http1}/direct`]);
    assert.equal(r.status, 0, `${r.command}: ${r.stderr}\n${logs()}`);
    assert.equal(parseJson(r.stdout, 'direct HTTP/1.1')['remote'], A_IP);
    const tcp = await runAsync(app(), shared().node, [shared().path(APP), 'tcp', B_IP, String(PORT.tcp)]);
    assert.equal(tcp.status, 0, `${tcp.command}: ${tcp.stderr}`);
    assert.equal(parseJson(tcp.stdout, 'direct tcp')['remote'], A_IP);
    stages.set('servers', true);
  });

  it('runs sluice-init in both pods', (t) => {
    if (!requirementsMet(t, MISSING)) return;
    requireStages('pods');
    for (const ns of [NS_A, NS_B]) {
      const out = must({ ns }, NODE, [INIT_BIN]);
      assert.match(out, /# iptables-save -t nat/);
      const save = must({ ns }, 'iptables-save', ['-t', 'nat']);
      assert.match(save, /^-A PREROUTING .*-j PROXY_INIT_REDIRECT$/m);
      assert.match(save, /^-A OUTPUT .*-j PROXY_INIT_OUTPUT$/m);
      assert.match(save, /^-A PROXY_INIT_OUTPUT -m owner --uid-owner 2102 .*-j RETURN$/m);
      assert.match(save, /^-A PROXY_INIT_REDIRECT -p tcp .*-j REDIRECT --to-ports 4143$/m);
      assert.match(save, /^-A PROXY_INIT_OUTPUT -p tcp .*-j REDIRECT --to-ports 4140$/m);
    }
    stages.set('init', true);
  });

  it('starts a proxy in each pod as uid 2102 and both report /ready', async (t) => {
    if (!requirementsMet(t, MISSING)) return;
    requireStages('init');
    checkAccess(shared(), PROXY_UID, [PROXY_BIN]);
    const env = { SLUICE_PROXY_WORKERS: '1', SLUICE_PROXY_LOG: process.env['SLUICE_E2E_PROXY_LOG'] ?? 'info' };
    const proxies = [NS_A, NS_B].map((ns) => {
      const p = new Proc(`proxy (${ns}, uid 2102)`, { ns, uid: PROXY_UID, shared: shared() }, shared().node, [shared().path(PROXY_BIN)], env);
      procs.push(p);
      return p;
    });
    for (const [i, ns] of [NS_A, NS_B].entries()) {
      const proxy = proxies[i];
      await waitFor(`${ns} proxy /ready`, 20_000, async () => {
        if (proxy !== undefined && !proxy.running) throw new GiveUp(`the ${ns} proxy exited before it was ready`);
        const r = await adminGet(ns, '/ready');
        return r.code === '200' ? true : undefined;
      }).catch((error: unknown) => {
        throw new Error(`${error instanceof Error ? error.message : String(error)}\n${logs()}`);
      });
    }
    stages.set('proxies', true);
  });

  it('HTTP/1.1 (curl) goes through both proxies', async (t) => {
    if (!requirementsMet(t, MISSING)) return;
    requireStages('servers', 'proxies');
    const url = `http://${B_IP}:${PORT.http1}/hello?via=sluice`;
    const get = await runAsync(app(), 'curl', ['-sS', '--max-time', '10', '-w', '\n%{http_code} %{http_version}', url]);
    assert.equal(get.status, 0, `${get.command}: ${get.stderr}\n${logs()}`);
    const [body = '', status = ''] = get.stdout.split(/\n(?=[^\n]*$)/);
    assert.equal(status, '200 1.1', `${get.stdout}\n${logs()}`);
    const seen = parseJson(body, 'HTTP/1.1 reply');
    assert.equal(seen['remote'], B_IP, `the server must see the inbound proxy (B's own address): ${body}`);
    assert.equal(seen['httpVersion'], '1.1');
    assert.equal(seen['path'], '/hello?via=sluice');
    assert.equal(seen['host'], `${B_IP}:${PORT.http1}`);

    // A request body both ways, on a fresh connection.
    const bodyIn = 'x'.repeat(100_000);
    const post = await runAsync(app(), 'curl', ['-sS', '--max-time', '10', '--data-binary', '@-', '-H', 'content-type: text/plain', `http://${B_IP}:${PORT.http1}/upload`], { input: bodyIn });
    assert.equal(post.status, 0, `${post.command}: ${post.stderr}\n${logs()}`);
    const posted = parseJson(post.stdout, 'HTTP/1.1 POST reply');
    assert.equal(posted['method'], 'POST');
    assert.equal(posted['bodyBytes'], bodyIn.length);
    assert.equal(posted['remote'], B_IP);
  });

  it('h2c with prior knowledge (curl --http2-prior-knowledge) goes through both proxies', async (t) => {
    if (!requirementsMet(t, MISSING)) return;
    requireStages('servers', 'proxies');
    const r = await runAsync(app(), 'curl', ['-sS', '--max-time', '10', '--http2-prior-knowledge', '-w', '\n%{http_code} %{http_version}', `http://${B_IP}:${PORT.h2c}/h2`]);
    assert.equal(r.status, 0, `${r.command}: ${r.stderr}\n${logs()}`);
    const [body = '', status = ''] = r.stdout.split(/\n(?=[^\n]*$)/);
    assert.equal(status, '200 2', `${r.stdout}\n${logs()}`);
    const seen = parseJson(body, 'h2c reply');
    assert.equal(seen['remote'], B_IP, `the server must see the inbound proxy (B's own address): ${body}`);
    assert.equal(seen['httpVersion'], '2.0', 'the h2c server must still be spoken to in HTTP/2');
    assert.equal(seen['authority'], `${B_IP}:${PORT.h2c}`);
  });

  it('gRPC unary and server-streaming calls (grpc-js) go through both proxies', async (t) => {
    if (!requirementsMet(t, MISSING)) return;
    requireStages('servers', 'proxies');
    const r = await runAsync(app(), shared().node, [shared().path(APP), 'grpc', B_IP, String(PORT.grpc)]);
    assert.equal(r.status, 0, `${r.command}: ${r.stderr}\n${logs()}`);
    const out = parseJson(r.stdout, 'gRPC client output') as { unary?: { text?: string; peer?: string }; stream?: Array<{ index?: number; peer?: string }> };
    assert.equal(out.unary?.text, 'hello through sluice');
    assert.equal(out.unary?.peer, B_IP, `the server must see the inbound proxy (B's own address): ${r.stdout}`);
    assert.deepEqual(out.stream?.map((m) => m.index), [0, 1, 2, 3, 4]);
    assert.ok(out.stream?.every((m) => m.peer === B_IP), r.stdout);
  });

  it('raw TCP with a half-close goes through both proxies', async (t) => {
    if (!requirementsMet(t, MISSING)) return;
    requireStages('servers', 'proxies');
    const r = await runAsync(app(), shared().node, [shared().path(APP), 'tcp', B_IP, String(PORT.tcp)]);
    assert.equal(r.status, 0, `${r.command}: ${r.stderr}\n${logs()}`);
    const out = parseJson(r.stdout, 'TCP client output');
    assert.equal(out['echoMatches'], true, r.stdout);
    assert.equal(out['sentBytes'], 256 * 1024);
    assert.equal(out['remote'], B_IP, `the server must see the inbound proxy (B's own address): ${r.stdout}`);
  });

  it("each proxy's /metrics shows the original destination: outbound in A, inbound in B", async (t) => {
    if (!requirementsMet(t, MISSING)) return;
    requireStages('servers', 'proxies');
    const expected: Array<{ ns: string; direction: string; metric: string; port: number }> = [];
    for (const [ns, direction] of [[NS_A, 'outbound'], [NS_B, 'inbound']] as const) {
      for (const port of [PORT.http1, PORT.h2c, PORT.grpc]) expected.push({ ns, direction, metric: 'request_total', port });
      expected.push({ ns, direction, metric: 'tcp_open_total', port: PORT.tcp });
    }
    const scraped = new Map<string, Sample[]>();
    const missing = (): string[] =>
      expected
        .filter((e) => {
          const samples = scraped.get(e.ns) ?? [];
          const found = findSamples(samples, e.metric, { direction: e.direction, target_addr: `${B_IP}:${e.port}` });
          return !found.some((s) => s.value > 0);
        })
        .map((e) => `${e.ns}: ${e.metric}{direction="${e.direction}",target_addr="${B_IP}:${e.port}"} > 0`);
    // Workers report to the main thread periodically, so allow the series a few seconds to appear.
    await waitFor('the expected metric series', 15_000, async () => {
      for (const ns of [NS_A, NS_B]) {
        const r = await adminGet(ns, '/metrics');
        if (r.code === '200') scraped.set(ns, parsePrometheus(r.body));
      }
      return missing().length === 0 ? true : undefined;
    }).catch(() => undefined);
    const lost = missing();
    const shown = [...scraped.entries()]
      .map(([ns, samples]) => {
        const rows = samples
          .filter((s) => s.name === 'request_total' || s.name === 'tcp_open_total')
          .map((s) => `  ${s.name}{${Object.entries(s.labels).map(([k, v]) => `${k}="${v}"`).join(',')}} ${s.value}`);
        return `${ns}:\n${rows.join('\n') || '  (no request_total / tcp_open_total series)'}`;
      })
      .join('\n');
    assert.deepEqual(lost, [], `missing series:\n${lost.join('\n')}\nseen:\n${shown}`);
    for (const e of expected) {
      for (const s of findSamples(scraped.get(e.ns) ?? [], e.metric, { direction: e.direction, target_addr: `${B_IP}:${e.port}` })) {
        const labels = ['direction', 'target_addr', 'peer', 'tls', 'status_code'].filter((k) => s.labels[k] !== undefined);
        t.diagnostic(`${e.ns} ${s.name}{${labels.map((k) => `${k}="${s.labels[k]}"`).join(',')}} ${s.value}`);
      }
    }
    for (const line of (servers?.log ?? '').split('\n').filter((l) => / from /.test(l))) t.diagnostic(`pod B server: ${line}`);
    // The inbound proxy in B must not have attributed anything to A's address (it read the original dst).
    const inboundB = findSamples(scraped.get(NS_B) ?? [], 'request_total', { direction: 'inbound' });
    assert.ok(inboundB.every((s) => s.labels['target_addr']?.startsWith(`${B_IP}:`)), shown);
  });
});
