// Certificates renewed and issuers rotated while requests flow (issue 8: "certificate renewal and issuer
// rotation during steady load lose no request"). Real processes on loopback: the controller (issuer
// files, certificates that live 15 s, so proxies renew every ~10.5 s), a client proxy and a server proxy
// with identities, mTLS between them, and a backend answering HTTP/1.1, h2c and gRPC. Three open-loop
// generators (perf/loadgen/openloop.ts, one process per protocol) send a fixed rate through both proxies
// while:
//   1. the issuer is replaced by a new one from the same anchor (files rewritten, as a Secret update);
//   2. the trust anchor is rotated: the anchors file becomes old + new, and the issuer one signed by the
//      new anchor (the proxies were started trusting both, the state after docs/identity.md's first step).
// After each switch a burst of overlapping slow requests makes the client proxy open new mesh connections,
// so that handshakes with the new certificates happen under load too (pooled connections alone would
// carry the load on handshakes made before the switches). Every request must get its response — counted
// by the generators and by the backend — the proxies must keep renewing, and the leaf the server proxy
// presents must move from issuer 1 to 2 to 3.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { controllerIdentityName, DEFAULT_IDENTITY_DOMAIN, identityName } from '../../api/identity-name.ts';
import { createLocalToken, formatTokenKey, generateTokenKey } from '../../control/identity/local-token.ts';
import { certificatesToPem, createIssuer, createTrustAnchor, type CaCredential } from '../../control/identity/pki.ts';
import { eventually, tempDir, writeIssuerFiles } from '../../control/identity/testkit.ts';
import { MESH_TRANSPORT_ALPN } from '../../workers/transport/local-identity.ts';
import type { OpenLoopResult } from '../../../perf/lib/types.ts';
import { startControllerProcess, type ControllerProcess } from '../../../test/support/controller-process.ts';
import { startMixedBackend, type MixedBackend } from '../../../test/support/mixed-backend.ts';
import { metricValue, startProxy, type RunningProxy } from '../../../test/support/proxy.ts';

const OPENLOOP = fileURLToPath(new URL('../../../perf/loadgen/openloop.ts', import.meta.url));
const CLIENT = identityName({ serviceAccount: 'client', namespace: 'default' }, DEFAULT_IDENTITY_DOMAIN);
const SERVER = identityName({ serviceAccount: 'server', namespace: 'default' }, DEFAULT_IDENTITY_DOMAIN);
const AUTHORITY = 'backend.default.svc.cluster.local:8080';
/** The controller's floor for the issuance lifetime: proxies renew after 70 % of it, ~10.5 s. */
const LIFETIME = '15s';
/**
 * Requests per second per protocol. Modest on purpose: what matters is that requests are in flight at
 * every switch (one every ~7 ms over the three), not throughput. On the shared 2-core machine (load
 * average 10–16 while this was written) 100 per second passed twice, but the proxies stalled for
 * seconds at times: past 100 + 256 queued gRPC streams the client proxy sheds (`overloaded`) — load
 * shedding, not the rotation. (Failure accrual then also ejected the only endpoint and hundreds failed
 * fast; sheds no longer count as the endpoint's failures: src/workers/proxy/load-shedding.test.ts.)
 */
const RATE = 50;
/** Long enough for two renewals after the load starts (the rotations wait for them). */
const LOAD_SECONDS = 30;

type Protocol = 'h1' | 'h2c' | 'grpc';
const PROTOCOLS: readonly Protocol[] = ['h1', 'h2c', 'grpc'];

interface Generator {
  readonly protocol: Protocol;
  readonly result: Promise<OpenLoopResult>;
  running(): boolean;
}

/** One perf/loadgen/openloop.ts process sending RATE req/s of `protocol` to the client proxy. */
function generate(protocol: Protocol, port: number): Generator {
  const child = spawn(
    process.execPath,
    [OPENLOOP, '--protocol', protocol, '--port', String(port), '--authority', AUTHORITY, '--rate', String(RATE), '--seconds', String(LOAD_SECONDS), '--warmup', '0', '--connections', protocol === 'h1' ? '16' : '2', '--drain-ms', '5000'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const result = new Promise<OpenLoopResult>((resolve, reject) => {
    child.once('exit', (code) => {
      try {
        resolve(JSON.parse(out.trim().split('\n').pop() ?? '') as OpenLoopResult);
      } catch {
        reject(new Error(`openloop ${protocol} exited ${code} without a result:\n${out}\n${err}`));
      }
    });
  });
  return { protocol, result, running: () => child.exitCode === null && child.signalCode === null };
}

/**
 * The issuer of the leaf the server proxy presents on its inbound port to a client asking for its
 * identity (what a new mesh connection gets), read over a real TLS handshake against the anchors.
 */
async function presentedIssuer(port: number, anchorsPem: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername: SERVER, ALPNProtocols: [MESH_TRANSPORT_ALPN], ca: anchorsPem, minVersion: 'TLSv1.3' }, () => {
      const leaf = socket.getPeerCertificate(false);
      socket.destroy();
      resolve(String(leaf.issuer.CN));
    });
    socket.setTimeout(5000, () => socket.destroy(new Error('TLS probe timed out')));
    socket.once('error', reject);
  });
}

/** One HTTP/1.1 GET through the client proxy on a connection of its own; resolves to the status. */
function getOnce(port: number, path = '/warm'): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, headers: { host: AUTHORITY }, agent: false, timeout: 20_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.once('timeout', () => req.destroy(new Error('warm-up request timed out')));
    req.once('error', reject);
  });
}

/** Requests of each burst, sent through the prober proxy over a mesh connection it must make anew. */
const BURST = 24;

const refreshes = async (proxy: RunningProxy): Promise<number> => metricValue(await proxy.metrics(), 'identity_cert_refresh_count');

describe('certificate renewal and issuer rotation under steady load', { timeout: 60_000 }, () => {
  test(`HTTP/1.1, h2c and gRPC at ${RATE} req/s each through two proxies lose no request while leaves renew, the issuer changes and the anchor rotates`, async (t) => {
    const dir = tempDir();
    let controller: ControllerProcess | undefined;
    let backend: MixedBackend | undefined;
    const proxies: RunningProxy[] = [];
    t.after(async () => {
      await Promise.all(proxies.map((p) => p.stop('SIGKILL')));
      await controller?.stop();
      await backend?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    const anchor1 = await createTrustAnchor({ commonName: 'root-1.sluice.cluster.local' });
    const anchor2 = await createTrustAnchor({ commonName: 'root-2.sluice.cluster.local' });
    const issuers: CaCredential[] = [
      await createIssuer(anchor1, { commonName: 'issuer-1.sluice.cluster.local' }),
      await createIssuer(anchor1, { commonName: 'issuer-2.sluice.cluster.local' }),
      await createIssuer(anchor2, { commonName: 'issuer-3.sluice.cluster.local' }),
    ];
    const files = await writeIssuerFiles(dir, issuers[0] as CaCredential, [anchor1]);
    const tokenKey = generateTokenKey();
    writeFileSync(path.join(dir, 'token.key'), formatTokenKey(tokenKey));
    const discovery = path.join(dir, 'mesh.yaml');
    writeFileSync(discovery, 'namespaces: {}\n');

    controller = await startControllerProcess([
      '--discovery=file',
      `--discovery-file=${discovery}`,
      '--identity-addr=127.0.0.1:0',
      `--identity-issuer-cert=${files.certificate}`,
      `--identity-issuer-key=${files.key}`,
      `--identity-trust-anchors=${files.anchors}`,
      `--identity-token-key=${path.join(dir, 'token.key')}`,
      `--identity-issuance-lifetime=${LIFETIME}`,
    ]);
    const identityAddr = /controller ready.* identity=(\S+)/.exec(controller.logs())?.[1];
    assert.ok(identityAddr !== undefined, controller.logs());
    backend = await startMixedBackend();

    // Both proxies trust old and new anchor from the start: docs/identity.md's first rotation step
    // (publish the bundle, restart the proxies) done before the test begins.
    const bothAnchorsPem = certificatesToPem([anchor1.certificate, anchor2.certificate]);
    const proxyEnv = (sa: string, name: string): Record<string, string> => {
      const tokenFile = path.join(dir, `${sa}.token`);
      writeFileSync(tokenFile, createLocalToken(tokenKey, { serviceAccount: sa, namespace: 'default' }));
      return {
        SLUICE_PROXY_DESTINATION_SVC_ADDR: controller?.proxyApi ?? '',
        SLUICE_PROXY_POD_NAMESPACE: 'default',
        SLUICE_PROXY_IDENTITY_DIR: dir,
        SLUICE_PROXY_IDENTITY_TRUST_ANCHORS: bothAnchorsPem,
        SLUICE_PROXY_IDENTITY_TOKEN_FILE: tokenFile,
        SLUICE_PROXY_IDENTITY_LOCAL_NAME: name,
        SLUICE_PROXY_IDENTITY_SVC_ADDR: identityAddr,
        SLUICE_PROXY_IDENTITY_SVC_NAME: controllerIdentityName(DEFAULT_IDENTITY_DOMAIN),
        SLUICE_PROXY_CONTROL_EXP_BACKOFF_MAX: '1s',
      };
    };
    const [client, prober, server] = await Promise.all([
      // Connect timeouts as generous as the machine needs: a burst makes two dozen TLS connections at
      // once, and each new mesh connection makes the server proxy connect to the backend, which runs in
      // this busy test process. Linkerd's 1 s outbound (connect and handshake) and 100 ms inbound
      // timeouts are missed on a loaded machine (504 connect_timeout), which is not what this test is about.
      startProxy({ ...proxyEnv('client', CLIENT), SLUICE_PROXY_POD_NAME: 'client-0', SLUICE_PROXY_OUTBOUND_CONNECT_TIMEOUT: '5s' }),
      // The prober (same service account as the client) carries only the bursts. Meshed HTTP/1 crosses
      // the hop as streams of one HTTP/2 connection (l5d-orig-proto), so the busy client proxy never
      // needs a new one; the prober's idles out between bursts (1 s), and each burst handshakes anew.
      startProxy({ ...proxyEnv('client', CLIENT), SLUICE_PROXY_POD_NAME: 'client-1', SLUICE_PROXY_OUTBOUND_CONNECT_TIMEOUT: '5s', SLUICE_PROXY_HTTP_POOL_IDLE_TIMEOUT: '1s' }),
      startProxy({
        ...proxyEnv('server', SERVER),
        SLUICE_PROXY_POD_NAME: 'server-0',
        SLUICE_PROXY_INBOUND_FORWARD_ADDR: `127.0.0.1:${backend.port}`,
        SLUICE_PROXY_INBOUND_CONNECT_TIMEOUT: '5s',
      }),
    ]);
    proxies.push(client, server, prober);
    // The backend Service: one endpoint, the server proxy's inbound listener, meshed as `server`.
    writeFileSync(
      discovery,
      [
        'namespaces:',
        '  default:',
        '    services:',
        '      backend:',
        '        ports: [{port: 8080, name: http}]',
        '        endpoints:',
        `          - {pod: server-0, ip: 127.0.0.1, port: ${server.inbound.port}, owner: deployment/server, serviceAccount: server, meshed: true}`,
        '',
      ].join('\n'),
    );
    for (const proxy of proxies) {
      await eventually('the proxy is ready (holds a certificate)', async () => (await fetch(`http://127.0.0.1:${proxy.admin.port}/ready`)).status === 200, 15_000);
    }
    // Discovery has the endpoint and the hop is mTLS before the load begins.
    await eventually('a request through both proxies over mTLS', async () => (await getOnce(client.outbound.port).catch(() => 0)) === 200, 10_000);
    assert.ok(metricValue(await server.metrics(), 'request_total', { direction: 'inbound', tls: 'true', client_id: CLIENT }) >= 1, 'the server proxy saw the client identity');
    assert.equal(await presentedIssuer(server.inbound.port, bothAnchorsPem), 'issuer-1.sluice.cluster.local');
    const before = { ...backend.answered };
    /** Mesh connections the prober opened (each a TLS handshake with the certificates of the moment). */
    const handshakes = async (): Promise<number> => metricValue(await prober.metrics(), 'tcp_open_total', { direction: 'outbound', peer: 'dst', tls: 'true', server_id: SERVER });
    const handshakesBefore = await handshakes();

    const generators = PROTOCOLS.map((protocol) => generate(protocol, client.outbound.port));
    const underLoad = (): boolean => generators.every((g) => g.running());
    const issuerOf = (): Promise<string> => presentedIssuer(server.inbound.port, bothAnchorsPem).catch((error: Error) => error.message);
    const updates = (): number => (controller?.logs().match(/identity issuer updated/g) ?? []).length;

    // 1. A new issuer from the same anchor: the next leaves come from it.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const refreshBefore = await Promise.all(proxies.map(refreshes));
    await writeIssuerFiles(dir, issuers[1] as CaCredential, [anchor1]);
    await eventually('the controller loads issuer 2', () => updates() >= 1, 5000);
    await eventually('the server proxy presents a leaf from issuer 2', async () => (await issuerOf()) === 'issuer-2.sluice.cluster.local', 15_000);
    await eventually('every proxy renewed after the new issuer', async () => (await Promise.all(proxies.map(refreshes))).every((n, i) => n > (refreshBefore[i] as number)), 15_000);
    assert.ok(underLoad(), 'issuer 2 took over while the load was still running');
    // A burst of slow requests at once through the prober, whose last mesh connection has idled out: it
    // opens a new one now, handshaking with the renewed certificates on both ends.
    const burst = async (): Promise<number[]> => {
      await new Promise((resolve) => setTimeout(resolve, 1500));
      return Promise.all(Array.from({ length: BURST }, () => getOnce(prober.outbound.port, '/slow').catch(() => 0)));
    };
    const handshakesAtIssuer2 = await handshakes();
    assert.deepEqual(await burst(), new Array<number>(BURST).fill(200), 'every request of the burst after issuer 2');
    assert.ok((await handshakes()) > handshakesAtIssuer2, 'new mesh connections with issuer 2 leaves');

    // 2. Anchor rotation: the bundle with both anchors, and an issuer signed by the new one.
    const refreshMid = await Promise.all(proxies.map(refreshes));
    await writeIssuerFiles(dir, issuers[2] as CaCredential, [anchor1, anchor2]);
    await eventually('the controller loads issuer 3 (new anchor)', () => updates() >= 2, 5000);
    await eventually('the server proxy presents a leaf from issuer 3', async () => (await issuerOf()) === 'issuer-3.sluice.cluster.local', 15_000);
    await eventually('every proxy renewed after the anchor rotation', async () => (await Promise.all(proxies.map(refreshes))).every((n, i) => n > (refreshMid[i] as number)), 15_000);
    assert.ok(underLoad(), 'issuer 3 took over while the load was still running');
    const handshakesAtIssuer3 = await handshakes();
    assert.deepEqual(await burst(), new Array<number>(BURST).fill(200), 'every request of the burst after the anchor rotation');
    assert.ok((await handshakes()) > handshakesAtIssuer3, 'new mesh connections with leaves of the new anchor');
    assert.ok(underLoad(), 'the bursts ran while the load was still running');

    const results = await Promise.all(generators.map((g) => g.result));
    /** What the proxies counted as failed, and why (their error labels), for a failure message. */
    const failed = async (): Promise<string> =>
      (await Promise.all([client.metrics(), server.metrics()])).flatMap((text) => text.split('\n').filter((l) => l.startsWith('response_total{') && l.includes('classification="failure"'))).join('\n');
    for (const result of results) {
      if (result.errors > 0) assert.fail(`${result.protocol}: ${result.errors} failed (${result.firstError ?? ''}); the proxies counted:\n${await failed()}`);
      assert.equal(result.ok, result.scheduled, `${result.protocol}: every scheduled request answered`);
      assert.equal(result.scheduled, RATE * LOAD_SECONDS);
    }
    // The other end agrees: the backend answered exactly what the generators sent (nothing lost, nothing twice).
    assert.deepEqual(
      { h1: backend.answered.h1 - before.h1, h2c: backend.answered.h2c - before.h2c, grpc: backend.answered.grpc - before.grpc, slow: backend.answered.slow - before.slow },
      { h1: RATE * LOAD_SECONDS, h2c: RATE * LOAD_SECONDS, grpc: RATE * LOAD_SECONDS, slow: 2 * BURST },
    );
    assert.equal(backend.lastHeaders.h1?.['sluice-client-id'], CLIENT, 'the application learns the verified caller');

    const [clientMetrics, serverMetrics] = await Promise.all([client.metrics(), server.metrics()]);
    for (const [name, text] of [['client', clientMetrics], ['server', serverMetrics], ['prober', await prober.metrics()]] as const) {
      assert.equal(metricValue(text, 'response_total', { classification: 'failure' }), 0, `${name} proxy counted failed responses`);
      assert.ok(metricValue(text, 'identity_cert_refresh_count') >= 3, `${name} proxy renewed at least twice`);
    }
    const total = RATE * LOAD_SECONDS * PROTOCOLS.length + 2 * BURST;
    assert.ok(metricValue(clientMetrics, 'response_total', { direction: 'outbound', tls: 'true', server_id: SERVER }) >= total - 2 * BURST, 'outbound: all over mTLS to the server identity');
    assert.ok(metricValue(serverMetrics, 'response_total', { direction: 'inbound', tls: 'true', client_id: CLIENT }) >= total, 'inbound: all over mTLS from the client identity');
    // The prober's new mesh connections (handshakes with the certificates of the moment), reported.
    const handshakesEnd = await handshakes();
    t.diagnostic(`renewals client/server/prober: ${await refreshes(client)}/${await refreshes(server)}/${await refreshes(prober)}; prober's mesh connections during the load: ${handshakesEnd - handshakesBefore} (${handshakesEnd - handshakesAtIssuer3} after the anchor rotation); achieved ${results.map((r) => `${r.protocol} ${r.achievedRate}/s p99 ${r.latency.p99}µs`).join(', ')}`);
  });
});
