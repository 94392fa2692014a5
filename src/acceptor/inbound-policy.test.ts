// The proxy's end of the inbound policy API, with real processes: a proxy (child process, one worker)
// asks a gRPC InboundServerPolicies server (grpc-js, from proto/inbound.proto, as a Go or Linkerd
// controller would serve it) for the policy of the port its first inbound connection is for, judges
// that connection by the answer (not by the permissive default), follows updates on the stream, and
// falls back to its default policy when the controller cannot be reached.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { loadProto } from '../api/proto.ts';
import { PROXY_ERROR_HEADER } from '../core/errors.ts';
import { closeServer, freePort, listen } from '../../test/support/net.ts';
import { startProxy, type RunningProxy } from '../../test/support/proxy.ts';

interface PortSpec {
  workload: string;
  port: number;
}
type WatchCall = grpc.ServerWritableStream<PortSpec, object>;

const WEB_SERVER = { group: 'policy.sluice.dev', kind: 'server', name: 'web-http' };
const DENY_ALL = { protocol: { detect: { timeout: { seconds: 10, nanos: 0 } } }, authorizations: [], labels: WEB_SERVER };
const ANYONE = {
  protocol: { http1: {} },
  labels: WEB_SERVER,
  authorizations: [
    {
      networks: [{ net: { ip: { ipv4: 0 }, prefix_len: 0 } }],
      authentication: { unauthenticated: {} },
      labels: { group: 'policy.sluice.dev', kind: 'serverauthorization', name: 'anyone' },
    },
  ],
};

function get(port: number): Promise<{ status: number; error: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent: false, timeout: 10_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, error: res.headers[PROXY_ERROR_HEADER] as string | undefined }));
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 10 s')));
    req.on('error', reject);
  });
}

async function eventually(check: () => Promise<boolean>, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('inbound policy from a policy service', { timeout: 60_000 }, () => {
  let app: http.Server;
  let appPort: number;
  let server: grpc.Server;
  let policyPort: number;
  const calls: WatchCall[] = [];

  before(async () => {
    app = http.createServer((_req, res) => res.end('ok'));
    appPort = await listen(app);
    const pkg = loadProto('inbound.proto') as unknown as { io: { linkerd: { proxy: { inbound: { InboundServerPolicies: { service: grpc.ServiceDefinition } } } } } };
    server = new grpc.Server();
    server.addService(pkg.io.linkerd.proxy.inbound.InboundServerPolicies.service, {
      GetPort: (_call: grpc.ServerUnaryCall<PortSpec, object>, callback: grpc.sendUnaryData<object>) => callback(null, DENY_ALL),
      WatchPort: (call: WatchCall) => {
        calls.push(call);
        call.write(DENY_ALL);
      },
    });
    policyPort = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, port) => (error ? reject(error) : resolve(port))),
    );
  });
  after(async () => {
    server.forceShutdown();
    await closeServer(app);
  });

  it('judges the first connection by the served policy, then follows updates', async () => {
    const proxy: RunningProxy = await startProxy({
      SLUICE_PROXY_INBOUND_FORWARD_ADDR: `127.0.0.1:${appPort}`,
      SLUICE_PROXY_POLICY_SVC_ADDR: `127.0.0.1:${policyPort}`,
      SLUICE_PROXY_POLICY_WORKLOAD: '{"ns":"shop","pod":"web-0"}',
    });
    try {
      // The default (all-unauthenticated) would let it in: the served Server refuses it.
      assert.deepEqual(await get(proxy.inbound.port), { status: 403, error: 'client is not authorized by the inbound policy' }, proxy.logs());
      assert.equal(calls.length, 1);
      assert.deepEqual(calls[0]?.request, { workload: '{"ns":"shop","pod":"web-0"}', port: appPort });
      calls[0]?.write(ANYONE);
      await eventually(async () => (await get(proxy.inbound.port)).status === 200, 'the update lets the client in');
      const metrics = await proxy.metrics();
      assert.match(metrics, new RegExp(`inbound_http_authz_deny_total\\{[^}]*srv_kind="server",srv_name="web-http",srv_port="${appPort}"[^}]*\\} [1-9]`), 'denied at least once (more while the update was on its way)');
      assert.match(metrics, /inbound_http_authz_allow_total\{[^}]*srv_name="web-http"[^}]*authz_kind="serverauthorization",authz_name="anyone"[^}]*tls="disabled"/);
      assert.equal(calls.length, 1, 'one watch per port, shared by every connection');
    } finally {
      assert.equal(await proxy.stop('SIGTERM'), 0, proxy.logs());
    }
  });

  it('applies the default policy when the policy service cannot be reached', async () => {
    const nowhere = await freePort();
    for (const [policy, status] of [['all-unauthenticated', 200], ['deny', 403]] as const) {
      const proxy = await startProxy({
        SLUICE_PROXY_INBOUND_FORWARD_ADDR: `127.0.0.1:${appPort}`,
        SLUICE_PROXY_POLICY_SVC_ADDR: `127.0.0.1:${nowhere}`,
        SLUICE_PROXY_INBOUND_DEFAULT_POLICY: policy,
      });
      try {
        const started = Date.now();
        assert.equal((await get(proxy.inbound.port)).status, status, proxy.logs());
        assert.ok(Date.now() - started < 4_000, 'the first connection waited at most the initial timeout');
      } finally {
        assert.equal(await proxy.stop('SIGTERM'), 0, proxy.logs());
      }
    }
  });
});
