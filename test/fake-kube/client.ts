// A KubeConfig for the real @kubernetes/client-node that points at a FakeKube.
import { KubeConfig } from '@kubernetes/client-node';
import type { FakeKube } from './server.ts';

export function kubeConfigFor(fake: FakeKube): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'fake', server: fake.url, skipTLSVerify: true }],
    users: [{ name: 'test', token: 'fake-token' }],
    contexts: [{ name: 'fake', cluster: 'fake', user: 'test' }],
    currentContext: 'fake',
  });
  return kc;
}
