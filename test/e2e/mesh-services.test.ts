// The end-to-end test's discovery file must be one the controller accepts and must say what the test
// relies on; checked here with the controller's own parser, without root, so a mistake shows up in
// every test run rather than only where network namespaces can be made.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseDiscoveryFile } from '../../src/control/discovery/file/parse.ts';
import { E2E_NAMESPACE, meshDiscoveryFile, meshServices, UNKNOWN_CLUSTER_IP, CLUSTER_IP_RANGE, destinationContext } from './mesh-services.ts';

const OPTIONS = { clusterDomain: 'cluster.local', controlPlaneNamespace: 'sluice', trustDomain: 'cluster.local' };
const SERVICES = Object.values(meshServices({ http1: 18080, h2c: 18082, grpc: 18083, tcp: 18084 }));

describe('the e2e discovery file', () => {
  const model = parseDiscoveryFile(meshDiscoveryFile(SERVICES, '10.231.77.2', '10.231.77.1'), 'e2e.yaml', OPTIONS);

  it('maps each cluster IP to its Service', () => {
    assert.deepEqual(
      [...model.serviceIps.entries()].map(([ip, s]) => `${ip} ${JSON.stringify(s)}`).sort(),
      SERVICES.map((s) => `${s.clusterIP} ${JSON.stringify({ namespace: E2E_NAMESPACE, service: s.name })}`).sort(),
    );
  });

  it('sends every Service port to the one meshed server pod at its own port', () => {
    for (const s of SERVICES) {
      const service = model.services.get(`${E2E_NAMESPACE}/${s.name}`);
      assert.ok(service !== undefined, s.name);
      assert.deepEqual(service.ports.map((p) => [p.port, p.targetPort]), [[s.port, s.targetPort]]);
      assert.deepEqual(service.endpoints.map((e) => [e.ip, e.pod?.name, e.meshed || e.pod?.meshed, e.serviceAccount]), [['10.231.77.2', 'servers-0', true, 'servers']]);
      assert.notEqual(s.port, s.targetPort, 'the endpoint port must differ from the Service port, or a fallback could pass for Destination');
    }
  });

  it('keeps the unknown cluster IP unknown, inside the routed range', () => {
    assert.equal(model.serviceIps.has(UNKNOWN_CLUSTER_IP), false);
    assert.ok(UNKNOWN_CLUSTER_IP.startsWith(CLUSTER_IP_RANGE.replace(/0\/24$/, '')));
    assert.ok(SERVICES.every((s) => s.clusterIP.startsWith(CLUSTER_IP_RANGE.replace(/0\/24$/, ''))));
  });

  it('gives the proxy a context token in the injector’s JSON form', () => {
    assert.deepEqual(JSON.parse(destinationContext('app-0')), { ns: E2E_NAMESPACE, nodeName: 'e2e-node', pod: 'app-0' });
  });
});
