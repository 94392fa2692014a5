// End to end, for real: two "pods" as network namespaces joined by a veth pair. In each, sluice-init
// writes the iptables rules and a Sluice proxy runs as uid 2102. In pod B run HTTP/1.1, h2c, gRPC and
// raw-TCP servers; in pod A the "app" (uid 1000) calls them, knowing nothing of the proxies. Every call
// must pass app → A's outbound proxy → B's inbound proxy → server, which shows in (1) the server seeing
// B's own address as the peer (the inbound proxy connected to it) and (2) each proxy's /metrics.
//
// The suite runs in two modes:
//   forward     the app calls B's address; the proxies have no control plane and route by original
//               destination.
//   controller  as in a real pod: the app calls Services' cluster IPs, which lead nowhere by themselves
//               (mesh-services.ts); the proxies know a real controller (file discovery), and A's
//               outbound proxy must ask Destination (GetProfile on `<clusterIP>:<port>` → the Service's
//               name → Get → pod B's address and port) to reach anything. Its metrics must name the
//               Service (`dst_*` labels) and the endpoint Destination gave (`target_addr`).
//
// The checkout may live anywhere, a 0700 home directory included: the processes that run as other
// uids see it bind-mounted under a world-traversable directory (shared-checkout.ts).
// Needs root, iproute2, iptables, setpriv, unshare and curl; skips visibly otherwise (fails under CI).
// Namespaces and every process started here are removed in `after`, whatever happened.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  adminGet,
  checkAccess,
  findSamples,
  formatSamples,
  GiveUp,
  linkNetns,
  must,
  NODE,
  Owned,
  parseJson,
  parsePrometheus,
  Proc,
  runAsync,
  waitFor,
  type Sample,
  type Where,
} from './netns.ts';
import {
  APP_POD,
  CLUSTER_IP_RANGE,
  destinationContext,
  E2E_NAMESPACE,
  meshDiscoveryFile,
  meshServices,
  PROXY_API_PORT,
  SERVER_POD,
  UNKNOWN_CLUSTER_IP,
  type ServerName,
} from './mesh-services.ts';
import { SharedCheckout } from './shared-checkout.ts';
import { missingRoot, missingTools, requirementsMet } from '../support/requirements.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PROXY_BIN = `${ROOT}bin/sluice-proxy.js`;
const INIT_BIN = `${ROOT}bin/sluice-init.js`;
const CONTROLLER_BIN = `${ROOT}bin/sluice-controller.js`;
const SERVERS = `${ROOT}test/e2e/servers.ts`;
const APP = `${ROOT}test/e2e/app.ts`;

// The addresses exist only inside the namespaces, so they cannot clash with the host's.
const A_IP = '10.231.77.1';
const B_IP = '10.231.77.2';
const PREFIX = 24;
const PORT = { http1: 18080, h2c: 18082, grpc: 18083, tcp: 18084 } as const;
const SERVICES = meshServices(PORT);
const APP_UID = 1000;
const PROXY_UID = 2102;
const CONTROLLER_UID = 2103;

const MISSING =
  missingRoot('network namespaces, iptables, running as uid 1000, 2102 and 2103') ??
  missingTools([['ip', ['-V']], 'iptables', 'iptables-save', 'setpriv', 'unshare', 'curl']);

interface Target {
  host: string;
  port: number;
}
const hostPort = (t: Target): string => `${t.host}:${t.port}`;
/** The Host / :authority curl sends for `http://<target>/`: the default port 80 left out. */
const curlAuthority = (t: Target): string => (t.port === 80 ? t.host : hostPort(t));

/** How the app finds pod B's servers, and so which path A's outbound proxy takes. */
interface Mode {
  readonly name: 'forward' | 'controller';
  readonly title: string;
  /** What the app connects to for each server. */
  target(server: ServerName): Target;
}

const FORWARD: Mode = {
  name: 'forward',
  title: 'the app calls B by address; the proxies route by original destination',
  target: (server) => ({ host: B_IP, port: PORT[server] }),
};

const CONTROLLER: Mode = {
  name: 'controller',
  title: "the app calls cluster IPs; A's proxy resolves them through a controller's Destination API",
  target: (server) => ({ host: SERVICES[server].clusterIP, port: SERVICES[server].port }),
};

/** A metric series one pod's proxy must show with a value above 0. */
interface Series {
  ns: string;
  metric: string;
  labels: Record<string, string>;
}

/** Split the body curl printed from the `-w '\n%{http_code} …'` line after it. */
function splitCurl(stdout: string): [body: string, status: string] {
  const [body = '', status = ''] = stdout.split(/\n(?=[^\n]*$)/);
  return [body, status];
}

function describeTransparent(mode: Mode): void {
  const NS_A = `sl-${mode.name[0]}a-${process.pid}`;
  const NS_B = `sl-${mode.name[0]}b-${process.pid}`;
  const meshed = mode.name === 'controller';
  const named = (test: string): string => `[${mode.name}] ${test}`;

  describe(`transparent proxying between two pods [${mode.name}]: ${mode.title}`, { timeout: 180_000 }, () => {
    const owned = new Owned();
    let servers: Proc | undefined;
    const stages = new Map<string, boolean>();
    let sharedCheckout: SharedCheckout | undefined;
    /** The checkout as the other uids see it; made in `before`. */
    const shared = (): SharedCheckout => {
      if (sharedCheckout === undefined) throw new Error('the shared checkout was not set up');
      return sharedCheckout;
    };
    /** The logs of everything running, for failure messages. */
    const logs = (): string => owned.logs();

    /** Fails the current test at once when an earlier stage it depends on did not pass. */
    const requireStages = (...names: string[]): void => {
      for (const name of names) {
        if (stages.get(name) !== true) throw new Error(`not run: the "${name}" stage did not pass (see its failure above)`);
      }
    };

    const app = (): Where => ({ ns: NS_A, uid: APP_UID, shared: shared() });
    const appNode = (kind: 'grpc' | 'tcp', target: Target) =>
      runAsync(app(), shared().node, [shared().path(APP), kind, target.host, String(target.port)]);

    before(() => {
      if (MISSING !== undefined) return;
      const checkout = new SharedCheckout(ROOT, NODE);
      sharedCheckout = checkout;
      // The mount points are empty by then: the mounts lived in the stopped processes' namespaces only.
      owned.onRelease(() => checkout.remove());
    });

    after(async () => {
      const errors = await owned.release();
      if (errors.length > 0) console.error(`e2e cleanup: ${errors.join('; ')}`);
    });

    it(named('builds two pods: namespaces with loopback up, joined by a veth pair'), (t) => {
      if (!requirementsMet(t, MISSING)) return;
      for (const ns of [NS_A, NS_B]) owned.netns(ns);
      linkNetns({ ns: NS_A, ip: A_IP }, { ns: NS_B, ip: B_IP }, PREFIX);
      assert.match(must({ ns: NS_A }, 'ip', ['-4', 'addr', 'show', 'dev', 'veth0']), new RegExp(`inet ${A_IP}/${PREFIX}`));
      assert.match(must({ ns: NS_B }, 'ip', ['-4', 'addr', 'show', 'dev', 'veth0']), new RegExp(`inet ${B_IP}/${PREFIX}`));
      if (meshed) {
        // Without a route the app's connect to a cluster IP fails before iptables could redirect it. In a
        // cluster the pod's default route plays this part; here the range goes out of A's veth, where no
        // one owns it (nothing answers ARP for it): only the proxy's Destination lookup leads anywhere.
        must({ ns: NS_A }, 'ip', ['route', 'add', CLUSTER_IP_RANGE, 'dev', 'veth0']);
        assert.match(must({ ns: NS_A }, 'ip', ['route', 'get', SERVICES.http1.clusterIP]), /dev veth0/);
      }
      stages.set('pods', true);
    });

    it(named('starts the servers in pod B (uid 1000) and reaches them directly from pod A before any rules'), async (t) => {
      if (!requirementsMet(t, MISSING)) return;
      requireStages('pods');
      checkAccess(shared(), APP_UID, [SERVERS, APP, `${ROOT}node_modules/@grpc/grpc-js/package.json`]);
      servers = owned.proc(new Proc('servers (pod B, uid 1000)', { ns: NS_B, uid: APP_UID, shared: shared() }, shared().node, [
        shared().path(SERVERS), '--host', B_IP, '--http1', String(PORT.http1), '--h2c', String(PORT.h2c), '--grpc', String(PORT.grpc), '--tcp', String(PORT.tcp),
      ]));
      await servers.waitForOutput(/^READY /m, 15_000);

      // Without sluice-init the app's connection arrives from A's own address.
      const r = await runAsync(app(), 'curl', ['-sS', '--max-time', '5', `http://${B_IP}:${PORT.http1}/direct`]);
      assert.equal(r.status, 0, `${r.command}: ${r.stderr}\n${logs()}`);
      assert.equal(parseJson(r.stdout, 'direct HTTP/1.1')['remote'], A_IP);
      const tcp = await appNode('tcp', { host: B_IP, port: PORT.tcp });
      assert.equal(tcp.status, 0, `${tcp.command}: ${tcp.stderr}`);
      assert.equal(parseJson(tcp.stdout, 'direct tcp')['remote'], A_IP);
      stages.set('servers', true);
    });

    it(named('runs sluice-init in both pods'), (t) => {
      if (!requirementsMet(t, MISSING)) return;
      requireStages('pods');
      for (const ns of [NS_A, NS_B]) {
        // The controller shares pod B's network (below): its port must reach it, not B's inbound proxy.
        const skip = meshed && ns === NS_B ? ['--inbound-ports-to-ignore', String(PROXY_API_PORT)] : [];
        const out = must({ ns }, NODE, [INIT_BIN, ...skip]);
        assert.match(out, /# iptables-save -t nat/);
        const save = must({ ns }, 'iptables-save', ['-t', 'nat']);
        assert.match(save, /^-A PREROUTING .*-j PROXY_INIT_REDIRECT$/m);
        assert.match(save, /^-A OUTPUT .*-j PROXY_INIT_OUTPUT$/m);
        assert.match(save, /^-A PROXY_INIT_OUTPUT -m owner --uid-owner 2102 .*-j RETURN$/m);
        assert.match(save, /^-A PROXY_INIT_REDIRECT -p tcp .*-j REDIRECT --to-ports 4143$/m);
        assert.match(save, /^-A PROXY_INIT_OUTPUT -p tcp .*-j REDIRECT --to-ports 4140$/m);
        if (skip.length > 0) assert.match(save, new RegExp(`^-A PROXY_INIT_REDIRECT -p tcp -m multiport --dports \\S*\\b${PROXY_API_PORT}\\b.*-j RETURN$`, 'm'));
      }
      stages.set('init', true);
    });

    if (meshed) {
      // Where the controller runs: in pod B's network namespace, as another container of that pod would,
      // listening on every address of it (B_IP for A's proxy, 127.0.0.1 for B's own). Both proxies run as
      // uid 2102, whose outgoing connections iptables never redirects; A's arrive at B on a port
      // sluice-init skips, so they reach the controller itself rather than B's inbound proxy. A third
      // namespace would need a bridge and routes for nothing the test checks.
      it(named('starts a controller (file discovery, the Services with their cluster IPs) in pod B as uid 2103'), async (t) => {
        if (!requirementsMet(t, MISSING)) return;
        requireStages('init');
        const discoveryDir = mkdtempSync(join(tmpdir(), 'sluice-e2e-discovery-'));
        owned.onRelease(() => rmSync(discoveryDir, { recursive: true, force: true }));
        chmodSync(discoveryDir, 0o755);
        const file = join(discoveryDir, 'mesh.yaml');
        writeFileSync(file, meshDiscoveryFile(Object.values(SERVICES), B_IP, A_IP), { mode: 0o644 });
        checkAccess(shared(), CONTROLLER_UID, [CONTROLLER_BIN]);
        const controller = owned.proc(new Proc(`controller (pod B, uid ${CONTROLLER_UID})`, { ns: NS_B, uid: CONTROLLER_UID, shared: shared() }, shared().node, [
          shared().path(CONTROLLER_BIN), '--discovery', 'file', '--discovery-file', file,
          '--proxy-api-addr', `0.0.0.0:${PROXY_API_PORT}`, '--public-api-addr', '127.0.0.1:8085', '--admin-addr', '127.0.0.1:9990', '--log', 'info',
        ]));
        const ready = await controller.waitForOutput(/controller ready .*/, 20_000);
        assert.match(ready[0], new RegExp(`proxy-api=0\\.0\\.0\\.0:${PROXY_API_PORT}\\b`));
        stages.set('controller', true);
      });
    }

    it(named('starts a proxy in each pod as uid 2102 and both report /ready'), async (t) => {
      if (!requirementsMet(t, MISSING)) return;
      requireStages('init', ...(meshed ? ['controller'] : []));
      checkAccess(shared(), PROXY_UID, [PROXY_BIN]);
      const base = { SLUICE_PROXY_WORKERS: '1', SLUICE_PROXY_LOG: process.env['SLUICE_E2E_PROXY_LOG'] ?? 'info' };
      /** What the injector sets for the control plane (src/inject/sidecar.ts), identity aside. */
      const podEnv = (pod: { name: string; owner: string }, controller: string): Record<string, string> => ({
        SLUICE_PROXY_DESTINATION_SVC_ADDR: controller,
        SLUICE_PROXY_DESTINATION_CONTEXT: destinationContext(pod.name),
        SLUICE_PROXY_DESTINATION_PROFILE_SUFFIXES: 'svc.cluster.local.',
        SLUICE_PROXY_POD_NAME: pod.name,
        SLUICE_PROXY_POD_NAMESPACE: E2E_NAMESPACE,
        SLUICE_PROXY_WORKLOAD: pod.owner,
      });
      const pods = [
        { ns: NS_A, env: meshed ? podEnv(APP_POD, `${B_IP}:${PROXY_API_PORT}`) : {} },
        { ns: NS_B, env: meshed ? podEnv(SERVER_POD, `127.0.0.1:${PROXY_API_PORT}`) : {} },
      ];
      const proxies = pods.map(({ ns, env }) => {
        const p = owned.proc(new Proc(`proxy (${ns}, uid 2102)`, { ns, uid: PROXY_UID, shared: shared() }, shared().node, [shared().path(PROXY_BIN)], { ...base, ...env }));
        return { ns, p };
      });
      for (const { ns, p } of proxies) {
        await waitFor(`${ns} proxy /ready`, 20_000, async () => {
          if (!p.running) throw new GiveUp(`the ${ns} proxy exited before it was ready`);
          const r = await adminGet(ns, '/ready');
          return r.code === '200' ? true : undefined;
        }).catch((error: unknown) => {
          throw new Error(`${error instanceof Error ? error.message : String(error)}\n${logs()}`);
        });
      }
      stages.set('proxies', true);
    });

    it(named('HTTP/1.1 (curl) goes through both proxies'), async (t) => {
      if (!requirementsMet(t, MISSING)) return;
      requireStages('servers', 'proxies');
      const target = mode.target('http1');
      const get = await runAsync(app(), 'curl', ['-sS', '--max-time', '10', '-w', '\n%{http_code} %{http_version}', `http://${hostPort(target)}/hello?via=sluice`]);
      assert.equal(get.status, 0, `${get.command}: ${get.stderr}\n${logs()}`);
      const [body, status] = splitCurl(get.stdout);
      assert.equal(status, '200 1.1', `${get.stdout}\n${logs()}`);
      const seen = parseJson(body, 'HTTP/1.1 reply');
      assert.equal(seen['remote'], B_IP, `the server must see the inbound proxy (B's own address): ${body}`);
      assert.equal(seen['httpVersion'], '1.1');
      assert.equal(seen['path'], '/hello?via=sluice');
      assert.equal(seen['host'], curlAuthority(target), 'the Host header arrives as the app sent it');

      // A request body both ways, on a fresh connection.
      const bodyIn = 'x'.repeat(100_000);
      const post = await runAsync(app(), 'curl', ['-sS', '--max-time', '10', '--data-binary', '@-', '-H', 'content-type: text/plain', `http://${hostPort(target)}/upload`], { input: bodyIn });
      assert.equal(post.status, 0, `${post.command}: ${post.stderr}\n${logs()}`);
      const posted = parseJson(post.stdout, 'HTTP/1.1 POST reply');
      assert.equal(posted['method'], 'POST');
      assert.equal(posted['bodyBytes'], bodyIn.length);
      assert.equal(posted['remote'], B_IP);
    });

    it(named('h2c with prior knowledge (curl --http2-prior-knowledge) goes through both proxies'), async (t) => {
      if (!requirementsMet(t, MISSING)) return;
      requireStages('servers', 'proxies');
      const target = mode.target('h2c');
      const r = await runAsync(app(), 'curl', ['-sS', '--max-time', '10', '--http2-prior-knowledge', '-w', '\n%{http_code} %{http_version}', `http://${hostPort(target)}/h2`]);
      assert.equal(r.status, 0, `${r.command}: ${r.stderr}\n${logs()}`);
      const [body, status] = splitCurl(r.stdout);
      assert.equal(status, '200 2', `${r.stdout}\n${logs()}`);
      const seen = parseJson(body, 'h2c reply');
      assert.equal(seen['remote'], B_IP, `the server must see the inbound proxy (B's own address): ${body}`);
      assert.equal(seen['httpVersion'], '2.0', 'the h2c server must still be spoken to in HTTP/2');
      assert.equal(seen['authority'], curlAuthority(target));
    });

    it(named('gRPC unary and server-streaming calls (grpc-js) go through both proxies'), async (t) => {
      if (!requirementsMet(t, MISSING)) return;
      requireStages('servers', 'proxies');
      const r = await appNode('grpc', mode.target('grpc'));
      assert.equal(r.status, 0, `${r.command}: ${r.stderr}\n${logs()}`);
      const out = parseJson(r.stdout, 'gRPC client output') as { unary?: { text?: string; peer?: string }; stream?: Array<{ index?: number; peer?: string }> };
      assert.equal(out.unary?.text, 'hello through sluice');
      assert.equal(out.unary?.peer, B_IP, `the server must see the inbound proxy (B's own address): ${r.stdout}`);
      assert.deepEqual(out.stream?.map((m) => m.index), [0, 1, 2, 3, 4]);
      assert.ok(out.stream?.every((m) => m.peer === B_IP), r.stdout);
    });

    it(named('raw TCP with a half-close goes through both proxies'), async (t) => {
      if (!requirementsMet(t, MISSING)) return;
      requireStages('servers', 'proxies');
      const r = await appNode('tcp', mode.target('tcp'));
      assert.equal(r.status, 0, `${r.command}: ${r.stderr}\n${logs()}`);
      const out = parseJson(r.stdout, 'TCP client output');
      assert.equal(out['echoMatches'], true, r.stdout);
      assert.equal(out['sentBytes'], 256 * 1024);
      assert.equal(out['remote'], B_IP, `the server must see the inbound proxy (B's own address): ${r.stdout}`);
    });

    if (meshed) {
      // The control experiment for the calls above: the same range, route, iptables and proxy, only
      // Destination knows nothing. Were the proxy to route a cluster IP by original destination (a
      // silent fallback), this is what every call above would have got.
      it(named('a cluster IP leads nowhere by itself: unknown to Destination it fails, bypassing the proxy too'), async (t) => {
        if (!requirementsMet(t, MISSING)) return;
        requireStages('servers', 'proxies');
        const [unknown, bypass] = await Promise.all([
          runAsync(app(), 'curl', ['-sS', '--max-time', '10', '-o', '/dev/null', '-D', '-', '-w', '\n%{http_code}', `http://${UNKNOWN_CLUSTER_IP}:80/nowhere`]),
          // uid 2102's connections are not redirected: straight to a known cluster IP, no proxy at all.
          runAsync({ ns: NS_A, uid: PROXY_UID }, 'curl', ['-sS', '--connect-timeout', '2', '--max-time', '4', `http://${hostPort(mode.target('http1'))}/bypass`]),
        ]);
        assert.equal(unknown.status, 0, `the outbound proxy must answer for an unreachable destination: ${unknown.command}: ${unknown.stderr}\n${logs()}`);
        const [headers, status] = splitCurl(unknown.stdout);
        assert.ok(status === '502' || status === '504', `expected the proxy's 502/504, got ${status}:\n${headers}`);
        assert.match(headers, /^sluice-proxy-error: /im, 'the error is the proxy’s own');
        assert.notEqual(bypass.status, 0, `${bypass.command} must fail, yet it got: ${bypass.stdout}`);
        assert.doesNotMatch(servers?.log ?? '', /\/nowhere|\/bypass/, 'no server may have seen these requests');
      });
    }

    /** The series each proxy must show: the original destination, or with a controller the Service's endpoint. */
    const expectedSeries = (): Series[] => {
      const expected: Series[] = [];
      const endpoint = (server: ServerName): string => `${B_IP}:${PORT[server]}`;
      for (const server of ['http1', 'h2c', 'grpc', 'tcp'] as const) {
        const metric = server === 'tcp' ? 'tcp_open_total' : 'request_total';
        // Outbound in A: the Service's labels from Destination and the endpoint address (not the cluster
        // IP the app connected to); for TCP on the connecting side's series.
        const labels = { dst_namespace: E2E_NAMESPACE, dst_service: server, dst_pod: SERVER_POD.name };
        const dst: Record<string, string> = !meshed ? {} : server === 'tcp' ? { peer: 'dst', ...labels } : labels;
        expected.push({ ns: NS_A, metric, labels: { direction: 'outbound', target_addr: endpoint(server), ...dst } });
        expected.push({ ns: NS_B, metric, labels: { direction: 'inbound', target_addr: endpoint(server) } });
      }
      return expected;
    };

    it(named(meshed ? "A's outbound metrics name each Service and the endpoint Destination gave; B's inbound saw the calls" : "each proxy's /metrics shows the original destination: outbound in A, inbound in B"), async (t) => {
      if (!requirementsMet(t, MISSING)) return;
      requireStages('servers', 'proxies');
      const expected = expectedSeries();
      const scraped = new Map<string, Sample[]>();
      const missing = (): string[] =>
        expected
          .filter((e) => !findSamples(scraped.get(e.ns) ?? [], e.metric, e.labels).some((s) => s.value > 0))
          .map((e) => `${e.ns}: ${e.metric}{${Object.entries(e.labels).map(([k, v]) => `${k}="${v}"`).join(',')}} > 0`);
      // Workers report to the main thread periodically, so allow the series a few seconds to appear.
      await waitFor('the expected metric series', 15_000, async () => {
        for (const ns of [NS_A, NS_B]) {
          const r = await adminGet(ns, '/metrics');
          if (r.code === '200') scraped.set(ns, parsePrometheus(r.body));
        }
        return missing().length === 0 ? true : undefined;
      }).catch(() => undefined);
      const seriesOf = (ns: string): Sample[] => (scraped.get(ns) ?? []).filter((s) => s.name === 'request_total' || s.name === 'tcp_open_total');
      const shown = [NS_A, NS_B].map((ns) => `${ns}:\n${formatSamples(seriesOf(ns)).map((l) => `  ${l}`).join('\n') || '  (no request_total / tcp_open_total series)'}`).join('\n');
      const lost = missing();
      assert.deepEqual(lost, [], `missing series:\n${lost.join('\n')}\nseen:\n${shown}`);
      for (const e of expected) for (const line of formatSamples(findSamples(scraped.get(e.ns) ?? [], e.metric, e.labels))) t.diagnostic(`${e.ns} ${line}`);
      for (const line of (servers?.log ?? '').split('\n').filter((l) => / from /.test(l))) t.diagnostic(`pod B server: ${line}`);
      // The inbound proxy in B must not have attributed anything to A's address (it read the original dst).
      const inboundB = findSamples(scraped.get(NS_B) ?? [], 'request_total', { direction: 'inbound' });
      assert.ok(inboundB.every((s) => s.labels['target_addr']?.startsWith(`${B_IP}:`)), shown);
      if (meshed) {
        // Nothing A sent upstream went to a Service's cluster IP: every connection was to an endpoint.
        const clusterIps = new Set(Object.values(SERVICES).map((s) => hostPort({ host: s.clusterIP, port: s.port })));
        const toClusterIp = seriesOf(NS_A).filter(
          (s) => s.labels['direction'] === 'outbound' && s.labels['peer'] !== 'src' && clusterIps.has(s.labels['target_addr'] ?? ''),
        );
        assert.deepEqual(formatSamples(toClusterIp), [], `A's proxy sent traffic to a cluster IP itself (fell back to the original destination):\n${shown}`);
        // And the proxies' Destination streams reached the controller directly, on the skipped port.
        const viaInbound = seriesOf(NS_B).filter((s) => s.labels['target_addr'] === `${B_IP}:${PROXY_API_PORT}`);
        assert.deepEqual(formatSamples(viaInbound), [], `B's inbound proxy carried A's proxy-API traffic, so sluice-init did not skip the port:\n${shown}`);
      }
    });
  });
}

describeTransparent(FORWARD);
describeTransparent(CONTROLLER);
