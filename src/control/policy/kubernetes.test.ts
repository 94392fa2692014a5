// Policy from Kubernetes, against the fake API server: Server and ServerAuthorization objects
// (policy.sluice.dev/v1beta1) and pods (labels, named container ports, the proxy's policy environment)
// watched by the discovery's informers, turned into each port's policy; an invalid object is left out
// with a warning; a change to a pod's labels moves it to another Server.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pod } from '../../../test/fake-kube/objects.ts';
import { parseNetworks } from '../../config/networks.ts';
import { Logger } from '../../log/logger.ts';
import { decodeServer } from '../../acceptor/inbound-policy-decode.ts';
import { InboundWatchPort } from '../../acceptor/grpc/control-methods.ts';
import { Server } from '../../acceptor/grpc/inbound-schema.ts';
import { encodeMessage } from '../../acceptor/grpc/protobuf-schema.ts';
import { harness, until } from '../discovery/kubernetes/testkit.ts';
import { InboundPolicyService } from './service.ts';

const NS = 'shop';
const serverObject = (name: string, app: string, port: number | string): Record<string, unknown> => ({
  apiVersion: 'policy.sluice.dev/v1beta1',
  kind: 'Server',
  metadata: { name, namespace: NS, resourceVersion: '1' },
  spec: { podSelector: { matchLabels: { app } }, port, proxyProtocol: 'gRPC' },
});

describe('inbound policy from Kubernetes', { timeout: 30_000 }, () => {
  test('Servers select pods by label and named port; invalid objects are ignored; pod label changes are followed', async (t) => {
    const web = { ...pod({ name: 'web-0', namespace: NS, labels: { app: 'web' }, meshed: 'container', ip: '10.1.0.1' }) };
    // The injected proxy's environment says what the pod's own default is.
    const spec = web['spec'] as { containers: { name: string; env?: unknown[] }[] };
    for (const c of spec.containers) if (c.name === 'sluice-proxy') c.env = [{ name: 'SLUICE_PROXY_INBOUND_DEFAULT_POLICY', value: 'deny' }];
    const { fake, discovery, log } = await harness(t, (f) => {
      f.create(web);
      f.create(serverObject('web-grpc', 'web', 'http'));
      f.create({ ...serverObject('broken', 'web', 99999), metadata: { name: 'broken', namespace: NS } });
    });
    await discovery.ready();
    const service = new InboundPolicyService(
      discovery,
      { defaultPolicy: 'all-unauthenticated', clusterNetworks: parseNetworks('t', '10.0.0.0/8'), identity: { controlPlaneNamespace: 'sluice', trustDomain: 'cluster.local' } },
      new Logger('error', 'plain', 'test', () => {}),
    );
    t.after(() => service.close());
    // Through the wire format, as a proxy receives it.
    const policyOf = (port: number) => decodeServer(InboundWatchPort.decode(encodeMessage(Server, service.answer(NS, 'web-0', port))));
    await until('the Server is seen', () => policyOf(8080).server.name === 'web-grpc');
    assert.equal(policyOf(8080).protocol, 'grpc');
    assert.equal(policyOf(7000).server.name, 'deny', "a port without a Server gets the pod's own default (its proxy environment)");
    assert.ok(log.matching('policy resource ignored').length >= 1, 'the invalid Server is reported');

    fake.create({
      apiVersion: 'policy.sluice.dev/v1beta1',
      kind: 'ServerAuthorization',
      metadata: { name: 'web-anyone', namespace: NS },
      spec: { server: { name: 'web-grpc' }, client: { unauthenticated: true } },
    });
    await until('the ServerAuthorization is seen', () => policyOf(8080).authorizations.length === 1);

    fake.update({ ...web, metadata: { ...(web['metadata'] as object), labels: { app: 'api' } } });
    await until('the relabelled pod leaves the Server', () => policyOf(8080).server.name === 'deny');
  });
});
