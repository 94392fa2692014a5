// A KubeConfig for the real @kubernetes/client-node that points at a FakeKube, in memory or as a file.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
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

/** Writes a kubeconfig file for processes (the controller, the CLI) that points at `fake`; returns its path. */
export function kubeconfigFile(fake: FakeKube, dir: string, context = 'fake'): string {
  const file = path.join(dir, 'kubeconfig');
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'fake', cluster: { server: fake.url, 'insecure-skip-tls-verify': true } }],
    users: [{ name: 'test', user: { token: 'fake-token' } }],
    contexts: [{ name: context, context: { cluster: 'fake', user: 'test' } }],
    'current-context': context,
  };
  writeFileSync(file, JSON.stringify(config, null, 2));
  return file;
}
