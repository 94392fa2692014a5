// Chooses the discovery backend from the controller's configuration. Both backends are imported
// lazily, so a controller in file mode never loads the Kubernetes client (and its dependencies).
import { existsSync } from 'node:fs';
import { Logger } from '../../log/logger.ts';
import type { ControllerConfig } from '../config.ts';
import type { DiscoveryBackend } from './types.ts';

type Env = Readonly<Record<string, string | undefined>>;

/** Where a pod's service account credentials are mounted. */
export const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

export async function createDiscovery(
  config: ControllerConfig,
  log: Logger,
  env: Env = process.env,
): Promise<DiscoveryBackend> {
  const scoped = (scope: string): Logger => new Logger(log.level, log.format, scope);
  if (config.discovery === 'file') {
    const { FileDiscovery } = await import('./file/file-discovery.ts');
    return new FileDiscovery({
      path: config.discoveryFile,
      clusterDomain: config.clusterDomain,
      controlPlaneNamespace: config.controlPlaneNamespace,
      trustDomain: config.trustDomain,
      log: scoped('discovery.file'),
    });
  }
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kubeConfig = new KubeConfig();
  const inCluster = env['KUBERNETES_SERVICE_HOST'] !== undefined && existsSync(SERVICE_ACCOUNT_TOKEN);
  if (inCluster && env['KUBECONFIG'] === undefined) {
    kubeConfig.loadFromCluster();
  } else if (env['KUBECONFIG'] !== undefined) {
    // loadFromDefault reads process.env; read the given env's KUBECONFIG explicitly instead.
    for (const file of env['KUBECONFIG'].split(':').filter((f) => f !== '')) kubeConfig.loadFromFile(file);
  } else {
    kubeConfig.loadFromDefault();
  }
  const cluster = kubeConfig.getCurrentCluster();
  if (cluster === null) {
    throw new Error('kubernetes discovery: no cluster configured (not in a pod, and no KUBECONFIG or ~/.kube/config)');
  }
  log.info('kubernetes discovery', { server: cluster.server, context: kubeConfig.getCurrentContext() });
  const { KubernetesDiscovery } = await import('./kubernetes/kubernetes-discovery.ts');
  return new KubernetesDiscovery(kubeConfig, {
    clusterDomain: config.clusterDomain,
    controlPlaneNamespace: config.controlPlaneNamespace,
    trustDomain: config.trustDomain,
    log: scoped('discovery.kubernetes'),
  });
}
