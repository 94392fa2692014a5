// End to end, with identities: the two pods of transparent.test.ts in controller mode, the controller
// now also the mesh's certificate authority (Identity on 8080, issuer files, local-mesh tokens), and
// each pod's proxy holding the identity of its service account (`app.e2e…`, `servers.e2e…`) before it
// is ready. Then, for real, on the veth between the pods:
//
//   - tcpdump records pod A's end of the veth while HTTP/1.1, h2c, gRPC and opaque TCP exchanges run,
//     each carrying markers of its own (path, header, body); tshark reads the capture back. Every
//     connection between the proxies must be TLS records from its first octet to its last, open with a
//     ClientHello for the server pod's identity and ALPN transport.l5d.io/v1, and no marker may appear
//     anywhere in the captured octets, neither as text nor HPACK-Huffman-coded. The same search over pod
//     B's loopback, where the inbound proxy hands the requests to the servers, finds every marker: the
//     control that shows the search would have seen them.
//   - `openssl s_client` from pod A sees the inbound proxy's chain: the leaf for the server's identity,
//     issued by the issuer, verified against the anchors.
//   - Impostors in pod B (a TLS server with a certificate for another identity, an expired one, one from
//     another trust anchor) stand where Destination says the server pod is: A's proxy refuses each with
//     a 502 (gRPC UNAVAILABLE) naming the TLS error and counts it; the impostor receives no request.
//   - Clients that are not proxies present an expired and an untrusted certificate to B's inbound port:
//     B's proxy closes them before anything reaches the server, and counts them; a valid one gets in.
//
// Needs root, iproute2, iptables, setpriv, unshare, curl, openssl, tcpdump and tshark; skips visibly
// otherwise (fails under CI). Namespaces and every process started here are removed in `after`.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, X509Certificate } from 'node:crypto';
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ERROR_RESPONSES } from '../../src/core/errors.ts';
import { adminGet, checkAccess, findSamples, formatSamples, GiveUp, linkNetns, must, NODE, Owned, parseJson, parsePrometheus, Proc, runAsync, waitFor, type Where } from './netns.ts';
import { CLUSTER_IP_RANGE, destinationContext, E2E_NAMESPACE, meshServices, APP_POD, PROXY_API_PORT, SERVER_POD, type ServerName } from './mesh-services.ts';
import { APP_IDENTITY, FORGERY_ERROR, IDENTITY_PORT, IMPOSTORS, mtlsDiscoveryFile, prepareMeshIdentity, SERVER_IDENTITY, type MeshIdentity } from './mtls-mesh.ts';
import { clientHellos, followStreams, startCapture, stopCapture, tcpStreams, type Capture } from './capture.ts';
import { checkTlsOnly, findMarkers, type Endpoint, type FollowedStream } from './capture-analysis.ts';
import { SharedCheckout } from './shared-checkout.ts';
import { leafIdentity } from '../../src/workers/proxy/mesh-tls.testkit.ts';
import { missingRoot, missingTools, requirementsMet } from '../support/requirements.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PROXY_BIN = `${ROOT}bin/sluice-proxy.js`;
const INIT_BIN = `${ROOT}bin/sluice-init.js`;
const CONTROLLER_BIN = `${ROOT}bin/sluice-controller.js`;
const SERVERS = `${ROOT}test/e2e/servers.ts`;
const APP = `${ROOT}test/e2e/app.ts`;
const IMPOSTOR = `${ROOT}test/e2e/impostor.ts`;
const TLS_PEER = `${ROOT}test/e2e/tls-peer.ts`;

// Addresses of their own, so this file and transparent.test.ts never meet (they exist only in the namespaces).
const A_IP = '10.231.79.1';
const B_IP = '10.231.79.2';
const PORT = { http1: 18080, h2c: 18082, grpc: 18083, tcp: 18084 } as const;
const SERVICES = meshServices(PORT);
const INBOUND_PORT = 4143;
const MESH_ALPN = 'transport.l5d.io/v1';
const APP_UID = 1000;
const PROXY_UID = 2102;
const CONTROLLER_UID = 2103;
const SERVER_PORTS = new Set<number>(Object.values(PORT));

const MISSING =
  missingRoot('network namespaces, iptables, running as uid 1000, 2102 and 2103, packet capture') ??
  missingTools([['ip', ['-V']], 'iptables', 'iptables-save', 'setpriv', 'unshare', 'curl', ['openssl', ['version']], 'tcpdump', 'tshark']);

/** This run's markers: a random prefix no capture holds by chance, one suffix per place a request carries it. */
const MARK = randomBytes(6).toString('hex');
const MARKERS = {
  http1: [`${MARK}-http1-path`, `${MARK}-http1-header`, `${MARK}-http1-body`],
  h2c: [`${MARK}-h2c-path`, `${MARK}-h2c-header`, `${MARK}-h2c-body`],
  grpc: [`${MARK}-grpc-message`, `${MARK}-grpc-metadata`, 'sluice.e2e.Echo/Unary'],
  tcp: [`${MARK}-tcp-payload`],
} as const satisfies Record<ServerName, readonly string[]>;
const ALL_MARKERS = Object.values(MARKERS).flat();

const show = (e: Endpoint): string => `${e.ip}:${e.port}`;

describe('mTLS between two pods with identities: capture, certificate chain, refusals', { timeout: 120_000 }, () => {
  const NS_A = `sl-ma-${process.pid}`;
  const NS_B = `sl-mb-${process.pid}`;
  const owned = new Owned();
  const stages = new Set<string>();
  let shared: SharedCheckout | undefined;
  let identity: MeshIdentity | undefined;
  let workDir = '';
  let servers: Proc | undefined;
  let impostor: Proc | undefined;
  const proxies = new Map<string, Proc>();
  const veth: { capture?: Capture; file?: string } = {};
  const loopback: { capture?: Capture; file?: string } = {};

  const logs = (): string => owned.logs();
  const need = (...names: string[]): void => {
    for (const name of names) if (!stages.has(name)) throw new Error(`not run: the "${name}" stage did not pass (see its failure above)`);
  };
  const sharedCheckout = (): SharedCheckout => {
    if (shared === undefined) throw new Error('the shared checkout was not set up');
    return shared;
  };
  const mesh = (): MeshIdentity => {
    if (identity === undefined) throw new Error('the identity material was not made');
    return identity;
  };
  const as = (ns: string, uid: number): Where => ({ ns, uid, shared: sharedCheckout() });
  const node = (where: Where, script: string, args: readonly string[], timeoutMs = 20_000) =>
    runAsync(where, sharedCheckout().node, [sharedCheckout().path(script), ...args], { timeoutMs });
  const metrics = async (ns: string) => {
    const r = await adminGet(ns, '/metrics');
    assert.equal(r.code, '200', `${ns} /metrics: ${r.body}`);
    return parsePrometheus(r.body);
  };
  const total = (samples: ReturnType<typeof parsePrometheus>, name: string, labels: Record<string, string>): number =>
    findSamples(samples, name, labels).reduce((sum, s) => sum + s.value, 0);

  before(() => {
    if (MISSING !== undefined) return;
    const checkout = new SharedCheckout(ROOT, NODE);
    shared = checkout;
    owned.onRelease(() => checkout.remove());
    workDir = mkdtempSync(join(tmpdir(), 'sluice-e2e-mtls-'));
    chmodSync(workDir, 0o755);
    owned.onRelease(() => rmSync(workDir, { recursive: true, force: true }));
  });

  after(async () => {
    const errors = await owned.release();
    if (errors.length > 0) console.error(`e2e cleanup: ${errors.join('; ')}`);
  });

  it('builds two pods, makes the mesh PKI, starts the servers and an impostor in pod B', async (t) => {
    if (!requirementsMet(t, MISSING)) return;
    for (const ns of [NS_A, NS_B]) owned.netns(ns);
    linkNetns({ ns: NS_A, ip: A_IP }, { ns: NS_B, ip: B_IP }, 24);
    must({ ns: NS_A }, 'ip', ['route', 'add', CLUSTER_IP_RANGE, 'dev', 'veth0']);
    identity = await prepareMeshIdentity(workDir, CONTROLLER_UID);
    const discovery = join(workDir, 'mesh.yaml');
    writeFileSync(discovery, mtlsDiscoveryFile(Object.values(SERVICES), B_IP, A_IP), { mode: 0o644 });
    checkAccess(sharedCheckout(), APP_UID, [SERVERS, APP, IMPOSTOR, TLS_PEER, `${ROOT}node_modules/@grpc/grpc-js/package.json`]);
    servers = owned.proc(new Proc('servers (pod B, uid 1000)', as(NS_B, APP_UID), sharedCheckout().node, [
      sharedCheckout().path(SERVERS), '--host', B_IP, '--http1', String(PORT.http1), '--h2c', String(PORT.h2c), '--grpc', String(PORT.grpc), '--tcp', String(PORT.tcp),
    ]));
    const serve: string[] = [];
    for (const s of IMPOSTORS) {
      const files = await mesh().credential(`impostor-${s.forgery}`, await mesh().forged(s.forgery));
      serve.push('--serve', `${s.targetPort}:${files.cert}:${files.key}`);
    }
    impostor = owned.proc(new Proc('impostor (pod B, uid 1000)', as(NS_B, APP_UID), sharedCheckout().node, [sharedCheckout().path(IMPOSTOR), '--host', B_IP, ...serve]));
    await Promise.all([servers.waitForOutput(/^READY /m, 15_000), impostor.waitForOutput(/^READY /m, 15_000)]);
    stages.add('pods');
  });

  it('runs sluice-init in both pods; B skips the controller’s ports and the impostors’', (t) => {
    if (!requirementsMet(t, MISSING)) return;
    need('pods');
    must({ ns: NS_A }, NODE, [INIT_BIN]);
    // The impostors stand beside the inbound proxy, as a compromised container of the pod would.
    const skipped = [PROXY_API_PORT, IDENTITY_PORT, ...IMPOSTORS.map((s) => s.targetPort)].join(',');
    must({ ns: NS_B }, NODE, [INIT_BIN, '--inbound-ports-to-ignore', skipped]);
    assert.match(must({ ns: NS_B }, 'iptables-save', ['-t', 'nat']), new RegExp(`--dports \\S*${IDENTITY_PORT}\\S* .*-j RETURN`));
    stages.add('init');
  });

  it('starts the controller with Identity in pod B (uid 2103), then a proxy in each pod (uid 2102) that is ready only with its certificate', async (t) => {
    if (!requirementsMet(t, MISSING)) return;
    need('init');
    checkAccess(sharedCheckout(), CONTROLLER_UID, [CONTROLLER_BIN]);
    const controller = owned.proc(new Proc(`controller (pod B, uid ${CONTROLLER_UID})`, as(NS_B, CONTROLLER_UID), sharedCheckout().node, [
      sharedCheckout().path(CONTROLLER_BIN), '--discovery', 'file', '--discovery-file', join(workDir, 'mesh.yaml'),
      '--proxy-api-addr', `0.0.0.0:${PROXY_API_PORT}`, '--identity-addr', `0.0.0.0:${IDENTITY_PORT}`,
      '--public-api-addr', '127.0.0.1:8085', '--admin-addr', '127.0.0.1:9990', '--log', 'info', ...mesh().controllerArgs,
    ]));
    await controller.waitForOutput(/controller ready .*/, 20_000);
    checkAccess(sharedCheckout(), PROXY_UID, [PROXY_BIN]);
    const pods = [
      { ns: NS_A, pod: APP_POD, name: APP_IDENTITY, controller: B_IP },
      { ns: NS_B, pod: SERVER_POD, name: SERVER_IDENTITY, controller: '127.0.0.1' },
    ];
    for (const p of pods) {
      // What the injector sets (src/inject/sidecar.ts), with a local-mesh token in place of the projected one.
      const env = {
        SLUICE_PROXY_WORKERS: '1',
        SLUICE_PROXY_LOG: process.env['SLUICE_E2E_PROXY_LOG'] ?? 'info',
        SLUICE_PROXY_DESTINATION_SVC_ADDR: `${p.controller}:${PROXY_API_PORT}`,
        SLUICE_PROXY_DESTINATION_CONTEXT: destinationContext(p.pod.name),
        SLUICE_PROXY_DESTINATION_PROFILE_SUFFIXES: 'svc.cluster.local.',
        SLUICE_PROXY_POD_NAME: p.pod.name,
        SLUICE_PROXY_POD_NAMESPACE: E2E_NAMESPACE,
        SLUICE_PROXY_WORKLOAD: p.pod.owner,
        SLUICE_PROXY_IDENTITY_DIR: workDir,
        SLUICE_PROXY_IDENTITY_TRUST_ANCHORS: mesh().anchorsPem,
        SLUICE_PROXY_IDENTITY_TOKEN_FILE: mesh().token(p.pod.serviceAccount, PROXY_UID),
        SLUICE_PROXY_IDENTITY_LOCAL_NAME: p.name,
        SLUICE_PROXY_IDENTITY_SVC_ADDR: `${p.controller}:${IDENTITY_PORT}`,
        SLUICE_PROXY_IDENTITY_SVC_NAME: mesh().controllerName,
      };
      proxies.set(p.ns, owned.proc(new Proc(`proxy (${p.ns}, uid 2102)`, as(p.ns, PROXY_UID), sharedCheckout().node, [sharedCheckout().path(PROXY_BIN)], env)));
    }
    for (const p of pods) {
      const proxy = proxies.get(p.ns);
      await waitFor(`${p.ns} proxy /ready`, 20_000, async () => {
        if (proxy?.running !== true) throw new GiveUp(`the ${p.ns} proxy exited before it was ready`);
        return (await adminGet(p.ns, '/ready')).code === '200' ? true : undefined;
      }).catch((error: unknown) => {
        throw new Error(`${error instanceof Error ? error.message : String(error)}\n${logs()}`);
      });
      assert.match(proxy?.log ?? '', new RegExp(`certified: identity ready identity=${p.name.replace(/\./g, '\\.')}`));
      assert.equal(total(await metrics(p.ns), 'identity_cert_refresh_count', {}), 1);
    }
    stages.add('proxies');
  });

  it('carries HTTP/1.1, h2c, gRPC and opaque TCP with markers while tcpdump records the veth and B’s loopback', async (t) => {
    if (!requirementsMet(t, MISSING)) return;
    need('proxies');
    veth.file = join(workDir, 'veth.pcap');
    loopback.file = join(workDir, 'b-loopback.pcap');
    veth.capture = await startCapture(owned, NS_A, 'veth0', veth.file);
    loopback.capture = await startCapture(owned, NS_B, 'lo', loopback.file);
    const app: Where = as(NS_A, APP_UID);
    const url = (server: ServerName, path: string): string => `http://${SERVICES[server].clusterIP}:${SERVICES[server].port}/${path}`;
    const curl = (server: 'http1' | 'h2c', extra: string[]) => {
      const [path, header, body] = MARKERS[server];
      return runAsync(app, 'curl', ['-sS', '--max-time', '10', ...extra, '-H', `x-e2e-mark: ${header}`, '--data-binary', body, '-w', '\n%{http_code}', url(server, path)]);
    };
    const target = (server: ServerName): string[] => [SERVICES[server].clusterIP, String(SERVICES[server].port), MARK];
    const [http1, h2c, grpc, tcp] = await Promise.all([
      curl('http1', []),
      curl('h2c', ['--http2-prior-knowledge']),
      node(app, APP, ['grpc', ...target('grpc')]),
      node(app, APP, ['tcp', ...target('tcp')]),
    ]);
    // Every exchange must have gone through, or the markers' absence below would prove nothing.
    for (const [server, r] of [['http1', http1], ['h2c', h2c]] as const) {
      assert.equal(r.status, 0, `${r.command}: ${r.stderr}\n${logs()}`);
      assert.match(r.stdout, /\n200$/, `${server}: ${r.stdout}`);
      assert.equal(parseJson(r.stdout.replace(/\n200$/, ''), server)['path'], `/${MARKERS[server][0]}`);
    }
    assert.equal(grpc.status, 0, `${grpc.command}: ${grpc.stderr}\n${logs()}`);
    assert.equal((parseJson(grpc.stdout, 'gRPC') as { unary?: { text?: string } }).unary?.text, MARKERS.grpc[0]);
    assert.equal(tcp.status, 0, `${tcp.command}: ${tcp.stderr}\n${logs()}`);
    assert.equal(parseJson(tcp.stdout, 'TCP')['echoMatches'], true, tcp.stdout);
    const counts = { veth: await stopCapture(veth.capture), loopback: await stopCapture(loopback.capture) };
    // To look at them with Wireshark afterwards: SLUICE_E2E_CAPTURE_DIR=/some/dir.
    const keep = process.env['SLUICE_E2E_CAPTURE_DIR'];
    if (keep !== undefined && keep !== '') for (const file of [veth.file, loopback.file]) copyFileSync(file, join(keep, `mtls-${basename(file)}`));
    t.diagnostic(`captured: veth ${counts.veth.captured} packets (${counts.veth.dropped} dropped), B's loopback ${counts.loopback.captured} (${counts.loopback.dropped} dropped)`);
    assert.ok(counts.veth.captured > 20, `the veth capture is (nearly) empty: ${JSON.stringify(counts)}`);
    // A packet the kernel dropped could have held plaintext: the veth's capture must be whole. The
    // loopback's is only the control; should it lose packets, the control's own check says so.
    assert.equal(counts.veth.dropped, 0, 'the kernel dropped packets of the veth: the capture is not whole');
    stages.add('captured');
  });

  it('the veth holds only TLS between the proxies: ClientHello for the server identity with ALPN transport.l5d.io/v1, then records to the last octet', (t) => {
    if (!requirementsMet(t, MISSING)) return;
    need('captured');
    const file = veth.file as string;
    const streams = tcpStreams(file);
    const followed = followStreams(file, streams.filter((s) => s.payloadBytes > 0).map((s) => s.index));
    const hop = { sni: SERVER_IDENTITY, alpn: [MESH_ALPN] };
    const verdict = checkTlsOnly(streams, followed, clientHellos(file, [...SERVER_PORTS, IDENTITY_PORT]), {
      client: A_IP,
      server: B_IP,
      // The proxy API (Destination, Telemetry) is plaintext gRPC here: the controller runs without a proxy.
      exempt: new Set([PROXY_API_PORT]),
      tls: new Map([...[...SERVER_PORTS].map((port) => [port, hop] as const), [IDENTITY_PORT, { sni: mesh().controllerName, alpn: ['h2'] }]]),
    });
    for (const note of verdict.notes) t.diagnostic(note);
    assert.deepEqual(verdict.problems, []);
    for (const [server, port] of Object.entries(PORT)) assert.ok((verdict.carried.get(port) ?? 0) >= 1, `no TLS connection carried ${server} (port ${port})`);
    const notTcp = must({}, 'tshark', ['-r', file, '-Y', 'ip && !tcp', '-T', 'fields', '-e', 'frame.protocols'], 30_000).trim();
    assert.equal(notTcp, '', 'IP packets other than TCP crossed the veth');
  });

  it('no marker crossed the veth in any form; on B’s loopback, where the servers get the requests, every one did', (t) => {
    if (!requirementsMet(t, MISSING)) return;
    need('captured');
    const haystacks = (file: string): Array<{ where: string; bytes: Buffer }> => {
      const streams = followStreams(file, tcpStreams(file).filter((s) => s.payloadBytes > 0).map((s) => s.index));
      const label = (f: FollowedStream, from: Endpoint) => `stream ${f.index} from ${show(from)}`;
      return [
        { where: `${file} (every captured octet)`, bytes: readFileSync(file) },
        ...streams.flatMap((f) => [{ where: label(f, f.node0), bytes: f.fromNode0 }, { where: label(f, f.node1), bytes: f.fromNode1 }]),
      ];
    };
    const leaked = findMarkers(ALL_MARKERS, haystacks(veth.file as string));
    assert.deepEqual(leaked, [], 'plaintext of a request crossed the veth');
    const seen = new Set(findMarkers(ALL_MARKERS, haystacks(loopback.file as string)).map((h) => h.marker));
    assert.deepEqual(ALL_MARKERS.filter((m) => !seen.has(m)), [], 'the control failed: markers the servers received are not in the loopback capture');
    t.diagnostic(`${ALL_MARKERS.length} markers: none on the veth, all on B's loopback`);
  });

  it('each proxy’s metrics name the peer’s verified identity: server_id outbound in A, client_id inbound in B', async (t) => {
    if (!requirementsMet(t, MISSING)) return;
    need('captured');
    const [a, b] = [await metrics(NS_A), await metrics(NS_B)];
    assert.ok(total(a, 'request_total', { direction: 'outbound', tls: 'true', server_id: SERVER_IDENTITY }) >= 3);
    assert.ok(total(a, 'tcp_open_total', { direction: 'outbound', peer: 'dst', tls: 'true', server_id: SERVER_IDENTITY }) >= 1);
    assert.ok(total(b, 'request_total', { direction: 'inbound', tls: 'true', client_id: APP_IDENTITY }) >= 3);
  });

  it('openssl s_client from pod A sees the inbound proxy’s chain: leaf for the server identity, from the issuer, verified by the anchors', async (t) => {
    if (!requirementsMet(t, MISSING)) return;
    need('proxies');
    // As uid 2102, whose connections pod A's iptables rules leave alone: straight to B's inbound port.
    const r = await runAsync({ ns: NS_A, uid: PROXY_UID }, 'openssl', [
      's_client', '-connect', `${B_IP}:${INBOUND_PORT}`, '-servername', SERVER_IDENTITY, '-alpn', MESH_ALPN, '-showcerts',
      '-CAfile', mesh().anchorsFile, '-verify_hostname', SERVER_IDENTITY, '-verify_return_error',
    ], { timeoutMs: 15_000 });
    const out = `${r.stdout}\n${r.stderr}`;
    assert.match(out, /Verify return code: 0 \(ok\)/, out);
    assert.match(out, new RegExp(`ALPN protocol: ${MESH_ALPN.replace(/[./]/g, '\\$&')}`));
    assert.match(out, /TLSv1\.3/);
    const pems = out.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
    assert.equal(pems.length, 2, 'the leaf and the issuer');
    const [leaf, issuer] = pems.map((p) => new X509Certificate(p)) as [X509Certificate, X509Certificate];
    const ourIssuer = new X509Certificate(Buffer.from(mesh().pki.issuer.certificate.rawData));
    const anchor = new X509Certificate(mesh().anchorsPem);
    assert.equal(leaf.subjectAltName, `DNS:${SERVER_IDENTITY}`);
    assert.equal(leaf.ca, false);
    assert.equal(issuer.fingerprint256, ourIssuer.fingerprint256, 'the chain carries the controller’s issuer');
    assert.ok(leaf.checkIssued(issuer) && leaf.verify(issuer.publicKey), 'the leaf is signed by the issuer');
    assert.ok(issuer.verify(anchor.publicKey), 'the issuer is signed by the trust anchor');
    const lifetimeH = (Date.parse(leaf.validTo) - Date.parse(leaf.validFrom)) / 3600_000;
    assert.ok(lifetimeH > 23.9 && lifetimeH < 24.1, `24 h certificates: ${leaf.validFrom} … ${leaf.validTo}`);
    t.diagnostic(`leaf ${leaf.subject.replace(/\n/g, ',')} issued by ${leaf.issuer.replace(/\n/g, ',')}, until ${leaf.validTo}`);
  });

  it('A’s proxy refuses impostors (another identity, expired, untrusted): 502 / UNAVAILABLE naming the TLS error, counted; the impostor gets no request', async (t) => {
    if (!requirementsMet(t, MISSING)) return;
    need('proxies');
    const app: Where = as(NS_A, APP_UID);
    for (const s of IMPOSTORS) {
      const kind = FORGERY_ERROR[s.forgery];
      const r = await runAsync(app, 'curl', ['-sS', '--max-time', '10', '-D', '-', '-o', '/dev/null', '-H', `x-e2e-mark: ${MARK}-impostor`, `http://${s.clusterIP}:${s.port}/${MARK}-${s.name}`]);
      assert.equal(r.status, 0, `${r.command}: ${r.stderr}`);
      assert.match(r.stdout, /^HTTP\/1\.1 502 /, `${s.name}: ${r.stdout}`);
      const header = /^sluice-proxy-error: (.*)\r$/im.exec(r.stdout)?.[1] ?? '';
      assert.match(header, new RegExp(ERROR_RESPONSES[kind].message), `${s.name}: ${r.stdout}`);
    }
    // gRPC gets the same refusal as UNAVAILABLE; opaque TCP is closed without a byte.
    const wrong = IMPOSTORS[0];
    assert.ok(wrong !== undefined);
    const [grpc, tcp] = await Promise.all([
      node(app, APP, ['grpc', wrong.clusterIP, String(wrong.port), MARK]),
      node(app, APP, ['tcp', wrong.clusterIP, String(wrong.port), MARK]),
    ]);
    assert.notEqual(grpc.status, 0, grpc.stdout);
    assert.match(grpc.stderr, new RegExp(`14 UNAVAILABLE: .*${ERROR_RESPONSES.tls_wrong_identity.message}`));
    assert.ok(tcp.status !== 0 || parseJson(tcp.stdout, 'TCP')['receivedBytes'] === 0, `opaque TCP got an answer from an impostor: ${tcp.stdout}`);
    t.diagnostic(`opaque TCP to the impostor: exit ${tcp.status} ${tcp.stderr.trim() || tcp.stdout.trim()}`);
    // HTTP and gRPC count the refusal as the response's error; TCP as the errno its connection closed with.
    const tcpRefused = { direction: 'outbound', peer: 'dst', target_addr: `${B_IP}:${wrong.targetPort}`, errno: 'ERR_TLS_CERT_ALTNAME_INVALID' };
    const a = await waitFor('the refusals in A’s metrics', 10_000, async () => {
      const samples = await metrics(NS_A);
      const http = IMPOSTORS.every((s) => total(samples, 'response_total', { direction: 'outbound', error: FORGERY_ERROR[s.forgery] }) >= 1);
      return http && total(samples, 'tcp_close_total', tcpRefused) >= 1 ? samples : undefined;
    }).catch(async (error: unknown) => {
      const shown = formatSamples((await metrics(NS_A)).filter((s) => s.name === 'response_total' || s.name === 'tcp_close_total'));
      throw new Error(`${error instanceof Error ? error.message : String(error)}\n${shown.join('\n')}`);
    });
    for (const s of IMPOSTORS) t.diagnostic(`A: response_total{direction="outbound",error="${FORGERY_ERROR[s.forgery]}"} ${total(a, 'response_total', { direction: 'outbound', error: FORGERY_ERROR[s.forgery] })}`);
    const impostorLog = impostor?.log ?? '';
    assert.doesNotMatch(impostorLog, /handshake completed|received \d+ bytes/, `an impostor got past the handshake:\n${impostorLog}`);
    for (const s of IMPOSTORS) assert.match(impostorLog, new RegExp(`handshake failed on ${s.targetPort}`), impostorLog);
    t.diagnostic(impostorLog.trim().split('\n').slice(1).join(' | '));
  });

  it('B’s proxy refuses clients with an expired or untrusted certificate before anything reaches the server; a valid one gets in', async (t) => {
    if (!requirementsMet(t, MISSING)) return;
    need('proxies');
    const peer = 'peer.e2e.serviceaccount.identity.sluice.cluster.local';
    const before = total(await metrics(NS_B), 'protocol_detect_total', { direction: 'inbound', reason: 'mesh_handshake_failed' });
    const attempt = async (label: string, forgery: 'expired' | 'untrusted' | undefined) => {
      const id = forgery === undefined ? await leafIdentity(mesh().pki, peer) : await mesh().forged(forgery, peer);
      const files = await mesh().credential(`peer-${label}`, id);
      const r = await node({ ns: NS_A, uid: PROXY_UID, shared: sharedCheckout() }, TLS_PEER, [
        '--connect', `${B_IP}:${PORT.http1}`, '--servername', SERVER_IDENTITY, '--ca', mesh().anchorsFile, '--cert', files.cert, '--key', files.key, '--path', `/${MARK}-peer-${label}`,
      ]);
      assert.equal(r.status, 0, `${r.command}: ${r.stderr}`);
      return parseJson(r.stdout, `tls-peer ${label}`);
    };
    const valid = await attempt('valid', undefined);
    assert.equal(valid['serverVerified'], true, JSON.stringify(valid));
    assert.match(String(valid['answer']), /^HTTP\/1\.1 200 /, JSON.stringify(valid));
    for (const forgery of ['expired', 'untrusted'] as const) {
      const refused = await attempt(forgery, forgery);
      assert.equal(refused['answer'], '', `${forgery}: ${JSON.stringify(refused)}`);
      t.diagnostic(`${forgery} client certificate: ${JSON.stringify(refused)}`);
    }
    const serverLog = servers?.log ?? '';
    assert.match(serverLog, new RegExp(`/${MARK}-peer-valid`));
    assert.doesNotMatch(serverLog, new RegExp(`${MARK}-peer-(expired|untrusted)`), 'a refused client reached the server');
    await waitFor('the refusals in B’s metrics', 10_000, async () => {
      const now = total(await metrics(NS_B), 'protocol_detect_total', { direction: 'inbound', reason: 'mesh_handshake_failed' });
      return now - before >= 2 ? true : undefined;
    });
    const proxyLog = proxies.get(NS_B)?.log ?? '';
    assert.match(proxyLog, /mesh TLS handshake with client failed.*CERT_HAS_EXPIRED/);
    assert.match(proxyLog, /mesh TLS handshake with client failed.*(UNABLE_TO_GET_ISSUER_CERT|UNABLE_TO_VERIFY_LEAF_SIGNATURE|CERT_UNTRUSTED)/);
  });
});
