// The inbound authorization variables: defaults, what each accepts, and errors that name the variable.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { authorizationActive, parseInboundPolicyConfig } from './inbound-policy-config.ts';

const DESTINATION = { host: 'sluice-destination.sluice.svc.cluster.local', port: 8086 };

describe('inbound policy configuration', () => {
  it('defaults to all-unauthenticated, no ports requiring identity, and no policy service without a controller: inactive', () => {
    const config = parseInboundPolicyConfig({}, undefined, 'web-0', 'shop');
    assert.equal(config.defaultPolicy, 'all-unauthenticated');
    assert.equal(config.svcAddr, undefined);
    assert.equal(config.workload, '{"ns":"shop","pod":"web-0"}');
    assert.equal(authorizationActive(config), false);
  });

  it('asks a policy service only when told to: an address, or `destination` for the Destination service\'s', () => {
    assert.equal(parseInboundPolicyConfig({}, DESTINATION, 'p', 'n').svcAddr, undefined);
    assert.deepEqual(parseInboundPolicyConfig({ SLUICE_PROXY_POLICY_SVC_ADDR: 'destination' }, DESTINATION, 'p', 'n').svcAddr, DESTINATION);
    assert.throws(() => parseInboundPolicyConfig({ SLUICE_PROXY_POLICY_SVC_ADDR: 'destination' }, undefined, 'p', 'n'), /SLUICE_PROXY_DESTINATION_SVC_ADDR is not set/);
    assert.deepEqual(parseInboundPolicyConfig({ SLUICE_PROXY_POLICY_SVC_ADDR: '10.0.0.1:8090' }, DESTINATION, 'p', 'n').svcAddr, { host: '10.0.0.1', port: 8090 });
    const off = parseInboundPolicyConfig({ SLUICE_PROXY_POLICY_SVC_ADDR: 'off' }, DESTINATION, 'p', 'n');
    assert.equal(off.svcAddr, undefined);
    assert.equal(authorizationActive(off), false);
  });

  it('is active with a stricter default or a port requiring identity', () => {
    assert.equal(authorizationActive(parseInboundPolicyConfig({ SLUICE_PROXY_INBOUND_DEFAULT_POLICY: 'deny' }, undefined, 'p', 'n')), true);
    const ports = parseInboundPolicyConfig({ SLUICE_PROXY_INBOUND_PORTS_REQUIRE_IDENTITY: '8080,9000-9001' }, undefined, 'p', 'n');
    assert.deepEqual([...ports.requireIdentityPorts], [8080, 9000, 9001]);
    assert.equal(authorizationActive(ports), true);
  });

  it('rejects what it cannot mean, naming the variable', () => {
    assert.throws(() => parseInboundPolicyConfig({ SLUICE_PROXY_INBOUND_DEFAULT_POLICY: 'allow-all' }, undefined, 'p', 'n'), /SLUICE_PROXY_INBOUND_DEFAULT_POLICY.*all-unauthenticated, all-authenticated/);
    assert.throws(() => parseInboundPolicyConfig({ SLUICE_PROXY_INBOUND_PORTS_REQUIRE_IDENTITY: 'http' }, undefined, 'p', 'n'), /SLUICE_PROXY_INBOUND_PORTS_REQUIRE_IDENTITY/);
    assert.throws(() => parseInboundPolicyConfig({ SLUICE_PROXY_POLICY_CLUSTER_NETWORKS: '10.0.0.0/33' }, undefined, 'p', 'n'), /SLUICE_PROXY_POLICY_CLUSTER_NETWORKS/);
    assert.throws(() => parseInboundPolicyConfig({ SLUICE_PROXY_POLICY_WORKLOAD: 'web-0' }, undefined, 'p', 'n'), /SLUICE_PROXY_POLICY_WORKLOAD/);
  });
});
