// End to end, for real: a client outside the mesh is refused where the policy requires identity. Two
// "pods" as network namespaces joined by a veth pair; pod B runs the HTTP/1.1, h2c, gRPC and raw-TCP
// servers behind sluice-init's iptables rules and a Sluice proxy (uid 2102) whose default inbound policy
// is `all-authenticated`; pod A has no proxy at all — its app (uid 1000) is a client from outside the
// mesh, so it can prove no identity. Each of its calls reaches B's inbound proxy through iptables and is
// refused there: HTTP/1.1 and h2c with 403 and `sluice-proxy-error`, gRPC with PERMISSION_DENIED, raw
// TCP closed without a byte of the echo; B's /metrics count the refusals and no admission. (The meshed side — an identified client let through over mTLS — is shown in
// src/workers/proxy/inbound/authorization.test.ts.)
// Needs root, iproute2, iptables, setpriv, unshare and curl; skips visibly otherwise (fails under CI).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { adminGet, checkAccess, findSamples, GiveUp, linkNetns, must, NODE, Owned, parsePrometheus, Proc, runAsync, waitFor, type Where } from './netns.ts';
import { SharedCheckout } from './shared-checkout.ts';
import { missingRoot, missingTools, requirementsMet } from '../support/requirements.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PROXY_BIN = `${ROOT}bin/sluice-proxy.js`;
const INIT_BIN = `${ROOT}bin/sluice-init.js`;
const SERVERS = `${ROOT}test/e2e/servers.ts`;
const APP = `${ROOT}test/e2e/app.ts`;

const A_IP = '10.231.78.1';
const B_IP = '10.231.78.2';
const PREFIX = 24;
const PORT = { http1: 18180, h2c: 18182, grpc: 18183, tcp: 18184 } as const;
const APP_UID = 1000;
const PROXY_UID = 2102;
const FORBIDDEN = 'client is not authorized by the inbound policy';

const MISSING =
  missingRoot('network namespaces, iptables, running as uid 1000 and 2102') ?? missingTools([['ip', ['-V']], 'iptables', 'iptables-save', 'setpriv', 'unshare', 'curl']);

describe('inbound authorization between two pods: a client outside the mesh is refused where identity is required', { timeout: 180_000 }, () => {
  const NS_A = `sl-za-${process.pid}`;
  const NS_B = `sl-zb-${process.pid}`;
  const owned = new Owned();
  let shared: SharedCheckout | undefined;
  let servers: Proc | undefined;
  let ready = false;
  const logs = (): string => owned.logs();
  const app = (): Where => ({ ns: NS_A, uid: APP_UID, shared: shared as SharedCheckout });

  before(() => {
    if (MISSING !== undefined) return;
    const checkout = new SharedCheckout(ROOT, NODE);
    shared = checkout;
    owned.onRelease(() => checkout.remove());
  });
  after(async () => {
    const errors = await owned.release();
    if (errors.length > 0) console.error(`e2e cleanup: ${errors.join('; ')}`);
  });

  it('builds pod A (no proxy) and pod B (servers, sluice-init, a proxy with all-authenticated)', async (t) => {
    if (!requirementsMet(t, MISSING)) return;
    const checkout = shared as SharedCheckout;
    for (const ns of [NS_A, NS_B]) owned.netns(ns);
    linkNetns({ ns: NS_A, ip: A_IP }, { ns: NS_B, ip: B_IP }, PREFIX);
    checkAccess(checkout, APP_UID, [SERVERS, APP, `${ROOT}node_modules/@grpc/grpc-js/package.json`]);
    checkAccess(checkout, PROXY_UID, [PROXY_BIN]);
    servers = owned.proc(new Proc('servers (pod B, uid 1000)', { ns: NS_B, uid: APP_UID, shared: checkout }, checkout.node, [
      checkout.path(SERVERS), '--host', B_IP, '--http1', String(PORT.http1), '--h2c', String(PORT.h2c), '--grpc', String(PORT.grpc), '--tcp', String(PORT.tcp),
    ]));
    await servers.waitForOutput(/^READY /m, 15_000);
    must({ ns: NS_B }, NODE, [INIT_BIN]);
    assert.match(must({ ns: NS_B }, 'iptables-save', ['-t', 'nat']), /^-A PROXY_INIT_REDIRECT -p tcp .*-j REDIRECT --to-ports 4143$/m);
    const proxy = owned.proc(new Proc(`proxy (${NS_B}, uid 2102)`, { ns: NS_B, uid: PROXY_UID, shared: checkout }, checkout.node, [checkout.path(PROXY_BIN)], {
      SLUICE_PROXY_WORKERS: '1',
      SLUICE_PROXY_LOG: 'info',
      SLUICE_PROXY_INBOUND_DEFAULT_POLICY: 'all-authenticated',
    }));
    await waitFor(`${NS_B} proxy /ready`, 20_000, async () => {
      if (!proxy.running) throw new GiveUp('the proxy exited before it was ready');
      return (await adminGet(NS_B, '/ready')).code === '200' ? true : undefined;
    }).catch((error: unknown) => {
      throw new Error(`${error instanceof Error ? error.message : String(error)}\n${logs()}`);
    });
    ready = true;
  });

  const requireReady = (): void => {
    if (!ready) throw new Error('not run: the pods were not built (see the failure above)');
  };

  it('HTTP/1.1 and h2c (curl) get 403 with sluice-proxy-error', async (t) => {
    if (!requirementsMet(t, MISSING)) return;
    requireReady();
    for (const [port, extra, version] of [[PORT.http1, [], '1.1'], [PORT.h2c, ['--http2-prior-knowledge'], '2']] as const) {
      const r = await runAsync(app(), 'curl', ['-sS', '--max-time', '10', ...extra, '-D', '-', '-o', '/dev/null', '-w', '%{http_code} %{http_version}', `http://${B_IP}:${port}/secret`]);
      assert.equal(r.status, 0, `${r.command}: ${r.stderr}\n${logs()}`);
      assert.match(r.stdout, new RegExp(`sluice-proxy-error: ${FORBIDDEN}`, 'i'), r.stdout);
      assert.match(r.stdout, new RegExp(`403 ${version}$`), r.stdout);
    }
  });

  it('gRPC (grpc-js) fails with PERMISSION_DENIED', async (t) => {
    if (!requirementsMet(t, MISSING)) return;
    requireReady();
    const r = await runAsync(app(), (shared as SharedCheckout).node, [(shared as SharedCheckout).path(APP), 'grpc', B_IP, String(PORT.grpc)]);
    assert.notEqual(r.status, 0, r.stdout);
    assert.match(r.stderr, /7 PERMISSION_DENIED/, `${r.stderr}\n${logs()}`);
  });

  it('raw TCP is closed without a byte of the echo', async (t) => {
    if (!requirementsMet(t, MISSING)) return;
    requireReady();
    const r = await runAsync(app(), (shared as SharedCheckout).node, [(shared as SharedCheckout).path(APP), 'tcp', B_IP, String(PORT.tcp)]);
    // Closed by the proxy: either an empty answer or a reset while the app was still sending.
    if (r.status === 0) assert.equal(JSON.parse(r.stdout)['receivedBytes'], 0, r.stdout);
    else assert.match(r.stderr, /ECONNRESET|EPIPE|socket hang up/, r.stderr);
  });

  it("B's proxy counted each refusal, and let nothing through", async (t) => {
    if (!requirementsMet(t, MISSING)) return;
    requireReady();
    const samples = parsePrometheus((await adminGet(NS_B, '/metrics')).body);
    const deny = (name: string, port: number): number =>
      findSamples(samples, name, { target_port: String(port), srv_kind: 'default', srv_name: 'all-authenticated', tls: 'disabled' }).reduce((sum, s) => sum + s.value, 0);
    assert.equal(deny('inbound_http_authz_deny_total', PORT.http1), 1);
    assert.equal(deny('inbound_http_authz_deny_total', PORT.h2c), 1);
    assert.ok(deny('inbound_http_authz_deny_total', PORT.grpc) >= 1);
    assert.equal(deny('inbound_tcp_authz_deny_total', PORT.tcp), 1);
    assert.equal(findSamples(samples, 'inbound_http_authz_allow_total', {}).length, 0);
  });
});
