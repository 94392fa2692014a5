// The controller's Kubernetes client configuration, shared by discovery and the injector: in a pod its
// service account, else KUBECONFIG (merged like kubectl), else ~/.kube/config.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';

type Env = Readonly<Record<string, string | undefined>>;

/** Where a pod's service account credentials are mounted. */
export const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/** Throws with the reason when there is no usable configuration; `what` names the caller in messages. */
export async function loadKubeConfig(env: Env, what: string): Promise<KubeConfig> {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kubeConfig = new KubeConfig();
  const homeConfig = path.join(env['HOME'] ?? homedir(), '.kube', 'config');
  const inCluster = env['KUBERNETES_SERVICE_HOST'] !== undefined && existsSync(SERVICE_ACCOUNT_TOKEN);
  if (inCluster && env['KUBECONFIG'] === undefined) {
    kubeConfig.loadFromCluster();
  } else if (env['KUBECONFIG'] !== undefined) {
    // Like kubectl: the files in KUBECONFIG merged, the first one's current context winning.
    const [first, ...rest] = env['KUBECONFIG'].split(path.delimiter).filter((f) => f !== '');
    if (first === undefined) throw new Error(`${what}: KUBECONFIG is empty`);
    kubeConfig.loadFromFile(first);
    for (const file of rest) {
      const more = new KubeConfig();
      more.loadFromFile(file);
      kubeConfig.mergeConfig(more, true);
    }
  } else if (existsSync(homeConfig)) {
    kubeConfig.loadFromFile(homeConfig);
  } else {
    // The client's own last resort would be http://localhost:8080; say what is missing instead.
    throw new Error(`${what}: no cluster configuration (not in a pod, no KUBECONFIG, no ~/.kube/config)`);
  }
  if (kubeConfig.getCurrentCluster() === null) throw new Error(`${what}: the kubeconfig has no current cluster`);
  return kubeConfig;
}
