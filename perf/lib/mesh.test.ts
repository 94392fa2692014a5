import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDiscoveryFile, serviceState } from '../../src/control/discovery/file/parse.ts';
import { MESH_AUTHORITY, inboundPathProblem, meshDiscoveryYaml, meshPathProblem, sampleLabels, sumSamples } from './mesh.ts';

const OPTIONS = { clusterDomain: 'cluster.local', controlPlaneNamespace: 'sluice', trustDomain: 'cluster.local' };

test('clients address the Service by its fully qualified name, as applications in a pod do', () => {
  assert.equal(MESH_AUTHORITY, 'backend.perf.svc.cluster.local:80');
});

test("the discovery file is one the controller's own parser accepts, resolving port 80 to the one endpoint", () => {
  const model = parseDiscoveryFile(meshDiscoveryYaml({ ip: '127.0.0.1', port: 41234, meshed: false }), 'mesh.yaml', OPTIONS);
  const state = serviceState(model, 'perf', 'backend', 80, OPTIONS);
  assert.equal(state.kind, 'endpoints');
  if (state.kind !== 'endpoints') return;
  assert.equal(state.endpoints.length, 1);
  const [ep] = state.endpoints;
  assert.deepEqual([ep?.ip, ep?.port], ['127.0.0.1', 41234]);
  assert.equal(ep?.labels['deployment'], 'backend');
  assert.equal(ep?.protocolHint, undefined);
});

test('an endpoint fronted by proxy B is a meshed pod (identity and protocol hint, as in a cluster)', () => {
  const model = parseDiscoveryFile(meshDiscoveryYaml({ ip: '127.0.0.1', port: 4143, meshed: true }), 'mesh.yaml', OPTIONS);
  const state = serviceState(model, 'perf', 'backend', 80, OPTIONS);
  assert.ok(state.kind === 'endpoints');
  assert.equal(state.endpoints[0]?.identity, 'backend.perf.serviceaccount.identity.sluice.cluster.local');
  assert.equal(state.endpoints[0]?.protocolHint, 'h2');
});

test('bad endpoints are refused before the controller sees them', () => {
  assert.throws(() => meshDiscoveryYaml({ ip: '127.0.0.1', port: 0, meshed: false }), /port must be 1–65535/);
  assert.throws(() => meshDiscoveryYaml({ ip: '127.0.0.1', port: 70000, meshed: false }), /port/);
  assert.throws(() => meshDiscoveryYaml({ ip: 'localhost', port: 80, meshed: false }), /must be an IP address/);
});

// What proxy A and B answered on /metrics in a sluice-mesh-2 run (trimmed).
const A = [
  '# TYPE request_total counter',
  'request_total{direction="outbound",authority="backend.perf.svc.cluster.local:80",target_addr="127.0.0.1:45679",target_ip="127.0.0.1",target_port="45679",tls="disabled",dst_control_plane_ns="sluice",dst_deployment="backend",dst_namespace="perf",dst_pod="backend-0",dst_service="backend",dst_serviceaccount="backend"} 1520',
  'request_total{direction="inbound",authority="x",target_addr="127.0.0.1:9",target_ip="127.0.0.1",target_port="9",tls="disabled"} 7',
  'route_request_total{direction="outbound",dst="backend.perf.svc.cluster.local:80"} 1520',
].join('\n');
const B = 'request_total{direction="inbound",authority="backend.perf.svc.cluster.local:80",target_addr="127.0.0.1:42709",target_ip="127.0.0.1",target_port="42709",tls="disabled"} 1520\n';
const FORWARD_ONLY = 'request_total{direction="outbound",authority="backend.perf.svc.cluster.local:80",target_addr="127.0.0.1:45679",target_ip="127.0.0.1",target_port="45679",tls="disabled"} 1520\n';

test('Prometheus samples: labels (with escapes) and sums over matching series', () => {
  assert.deepEqual([...sampleLabels('a="1",b="x\\"y\\\\z",c=""')], [['a', '1'], ['b', 'x"y\\z'], ['c', '']]);
  assert.equal(sumSamples(A, 'request_total', { direction: 'outbound' }), 1520);
  assert.equal(sumSamples(A, 'request_total', {}), 1527);
  assert.equal(sumSamples(A, 'route_request_total', {}), 1520);
  assert.equal(sumSamples('process_open_fds 12\nprocess_open_fds_x 3\n', 'process_open_fds', {}), 12);
  assert.equal(sumSamples('', 'request_total', {}), 0);
});

test('the mesh path is confirmed only by requests to the resolved endpoint with dst_* labels', () => {
  assert.equal(meshPathProblem(A, '127.0.0.1:45679'), null);
  assert.match(meshPathProblem(A, '127.0.0.1:1') ?? '', /none to 127\.0\.0\.1:1 .* did not take the mesh path/);
  // Same endpoint reached through a forward address: no dst_* labels, so not the mesh path.
  assert.match(meshPathProblem(FORWARD_ONLY, '127.0.0.1:45679') ?? '', /sent 1520 outbound requests but none/);
  assert.equal(meshPathProblem('', '127.0.0.1:45679'), 'the proxy counted no outbound requests at all');
  assert.equal(inboundPathProblem(B), null);
  assert.match(inboundPathProblem(FORWARD_ONLY) ?? '', /no inbound requests/);
});
