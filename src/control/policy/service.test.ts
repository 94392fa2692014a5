// The controller's InboundServerPolicies over the wire, from the local mesh's file: a proxy's own gRPC
// client (the lean channel and codec the acceptor uses) watches a port, gets the Server the file
// describes, and an edit of the file streams the change; a port without a Server gets the default;
// a malformed request is INVALID_ARGUMENT; a malformed policy in the file is refused with its position.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import type { PortPolicy } from '../../api/inbound-policy.ts';
import { parseNetworks } from '../../config/networks.ts';
import { Logger } from '../../log/logger.ts';
import { GrpcChannel } from '../../acceptor/grpc/channel.ts';
import { InboundWatchPort } from '../../acceptor/grpc/control-methods.ts';
import { decodeServer } from '../../acceptor/inbound-policy-decode.ts';
import { connectUpstream } from '../../workers/transport/connect.ts';
import { FileDiscovery } from '../discovery/file/file-discovery.ts';
import { parseDiscoveryFile } from '../discovery/file/parse.ts';
import { inboundPolicyDefinition } from './component.ts';
import { InboundPolicyService } from './service.ts';

const MESH = (authorizations: string): string => `
namespaces:
  shop:
    pods:
      web-0: {ip: 10.42.0.11, owner: deployment/web, serviceAccount: web, meshed: true, labels: {app: web}}
policy:
  - apiVersion: policy.sluice.dev/v1beta1
    kind: Server
    metadata: {name: web-http, namespace: shop}
    spec: {podSelector: {matchLabels: {app: web}}, port: 8080, proxyProtocol: HTTP/1}
${authorizations}`;
const CLIENTS = `
  - kind: ServerAuthorization
    metadata: {name: web-clients, namespace: shop}
    spec:
      server: {name: web-http}
      client: {meshTLS: {serviceAccounts: [{name: client}]}}`;

describe('InboundServerPolicies from the local file', { timeout: 30_000 }, () => {
  let dir: string;
  let file: string;
  let discovery: FileDiscovery;
  let service: InboundPolicyService;
  let server: grpc.Server;
  let channel: GrpcChannel;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'sluice-policy-'));
    file = path.join(dir, 'mesh.yaml');
    writeFileSync(file, MESH(''));
    const log = new Logger('error', 'plain', 'test', () => {});
    discovery = new FileDiscovery({ path: file, clusterDomain: 'cluster.local', controlPlaneNamespace: 'sluice', trustDomain: 'cluster.local', log, pollIntervalMs: 100, debounceMs: 10 });
    await discovery.ready();
    service = new InboundPolicyService(discovery, { defaultPolicy: 'cluster-unauthenticated', clusterNetworks: parseNetworks('t', '10.0.0.0/8'), identity: { controlPlaneNamespace: 'sluice', trustDomain: 'cluster.local' } }, log);
    server = new grpc.Server();
    server.addService(inboundPolicyDefinition(), service.implementation());
    const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
    channel = new GrpcChannel({ authority: `127.0.0.1:${port}`, connect: () => connectUpstream({ host: '127.0.0.1', port }, 2_000) });
  });
  after(() => {
    channel.close();
    server.forceShutdown();
    service.close();
    discovery.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Opens WatchPort and returns the policies received so far (decoded as the proxy decodes them). */
  function watch(workload: string, port: number): { policies: PortPolicy[]; status: () => number | undefined; cancel: () => void } {
    const policies: PortPolicy[] = [];
    let code: number | undefined;
    const call = channel.serverStream(InboundWatchPort, { workload, port }, { message: (m) => policies.push(decodeServer(m)), status: (s) => (code = s.code) });
    return { policies, status: () => code, cancel: () => call.cancel() };
  }

  async function until(what: string, check: () => boolean): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  it('serves the Server the file describes, and streams the change when the file gains a ServerAuthorization', async () => {
    const w = watch('{"ns":"shop","pod":"web-0"}', 8080);
    try {
      await until('the first answer', () => w.policies.length === 1);
      assert.deepEqual(w.policies[0]?.server, { group: 'policy.sluice.dev', kind: 'server', name: 'web-http' });
      assert.equal(w.policies[0]?.protocol, 'http1');
      assert.deepEqual(w.policies[0]?.authorizations, [], 'a Server with no authorization admits no one');
      writeFileSync(file, MESH(CLIENTS));
      await until('the update', () => w.policies.length === 2);
      const authz = w.policies[1]?.authorizations ?? [];
      assert.deepEqual(authz.map((a) => [a.ref.name, a.authn]), [
        ['web-clients', { kind: 'mesh-tls', identities: ['client.shop.serviceaccount.identity.sluice.cluster.local'], suffixes: [] }],
      ]);
    } finally {
      w.cancel();
    }
  });

  it('gives a port no Server describes the cluster default, as the proxy names it', async () => {
    const w = watch('{"ns":"shop","pod":"web-0"}', 9999);
    try {
      await until('the answer', () => w.policies.length === 1);
      assert.deepEqual(w.policies[0]?.server, { group: '', kind: 'default', name: 'cluster-unauthenticated' });
      assert.equal(w.policies[0]?.authorizations[0]?.authn.kind, 'unauthenticated');
    } finally {
      w.cancel();
    }
  });

  it('answers GetPort once, and a malformed request INVALID_ARGUMENT', async () => {
    const getPort = { ...InboundWatchPort, path: '/io.linkerd.proxy.inbound.InboundServerPolicies/GetPort' };
    const answer = decodeServer(await channel.unary(getPort, { workload: '{"ns":"shop","pod":"web-0"}', port: 8080 }));
    assert.equal(answer.server.name, 'web-http');
    await assert.rejects(channel.unary(getPort, { workload: 'web-0', port: 8080 }), (e: { code?: number }) => e.code === grpc.status.INVALID_ARGUMENT);
    const w = watch('{"ns":"shop","pod":"web-0"}', 0);
    await until('the refusal', () => w.status() !== undefined);
    assert.equal(w.status(), grpc.status.INVALID_ARGUMENT);
  });

  it('refuses a file whose policy does not validate, naming the entry', () => {
    const bad = MESH('').replace('port: 8080', 'port: 70000');
    assert.throws(() => parseDiscoveryFile(bad, 'mesh.yaml', { clusterDomain: 'cluster.local', controlPlaneNamespace: 'sluice', trustDomain: 'cluster.local' }), /mesh\.yaml:\d+:\d+: Server: spec\.port: expected a port number/);
  });
});
