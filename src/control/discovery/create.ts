// Chooses the discovery backend from the controller's configuration. Both backends are imported
// lazily, so a controller in file mode never loads the Kubernetes client (and its dependencies).
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { Logger } from '../../log/logger.ts';
import type { ControllerConfig } from '../config.ts';
import type { DiscoveryBackend } from './types.ts';
import type { KubeConfig } from '@kubernetes/client-node';

type Env = Readonly<Record<string, string | undefined>>;

/** Where a pod's service account credentials are mounted. */
export const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/**
 * The backend for `config.discovery`. A file backend is returned loaded (its first read done). When
 * the backend cannot start (unreadable or invalid file, no Kubernetes configuration), `onFatal` gets
 * the reason: by default it is logged as one clean line and the process exits with status 1.
 */
export async function createDiscovery(
  config: ControllerConfig,
  log: Logger,
  env: Env = process.env,
  onFatal: (error: Error) => never = (error) => {
    log.error('discovery cannot start', { discovery: config.discovery, error: error.message });
    process.exit(1);
  },
): Promise<DiscoveryBackend> {
  try {
    return await create(config, log, env);
  } catch (error) {
    return onFatal(error as Error);
  }
}

async function create(config: ControllerConfig, log: Logger, env: Env): Promise<DiscoveryBackend> {
  const scoped = (scope: string): Logger => new Logger(log.level, log.format, scope);
  if (config.discovery === 'file') {
    const { FileDiscovery } = await import('./file/file-discovery.ts');
    const backend = new FileDiscovery({
      path: config.discoveryFile,
      clusterDomain: config.clusterDomain,
      controlPlaneNamespace: config.controlPlaneNamespace,
      trustDomain: config.trustDomain,
      log: scoped('discovery.file'),
    });
    await backend.ready();
    return backend;
  }
  const kubeConfig = await loadKubeConfig(env);
  log.info('kubernetes discovery', { server: kubeConfig.getCurrentCluster()?.server, context: kubeConfig.getCurrentContext() });
  const { KubernetesDiscovery } = await import('./kubernetes/kubernetes-discovery.ts');
  return new KubernetesDiscovery(kubeConfig, {
    clusterDomain: config.clusterDomain,
    controlPlaneNamespace: config.controlPlaneNamespace,
    trustDomain: config.trustDomain,
    log: scoped('discovery.kubernetes'),
  });
}

/**
 * The cluster configuration as kubectl finds it: in a pod its service account, else KUBECONFIG (merged),
 * else ~/.kube/config. Throws saying what is missing. Also used by the identity component.
 */
export async function loadKubeConfig(env: Env = process.env): Promise<KubeConfig> {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kubeConfig = new KubeConfig();
  const homeConfig = path.join(env['HOME'] ?? homedir(), '.kube', 'config');
  const inCluster = env['KUBERNETES_SERVICE_HOST'] !== undefined && existsSync(SERVICE_ACCOUNT_TOKEN);
  if (inCluster && env['KUBECONFIG'] === undefined) {
    kubeConfig.loadFromCluster();
  } else if (env['KUBECONFIG'] !== undefined) {
    // Like kubectl: the files in KUBECONFIG merged, the first one's current context winning.
    const [first, ...rest] = env['KUBECONFIG'].split(path.delimiter).filter((f) => f !== '');
    if (first === undefined) throw new Error('kubernetes discovery: KUBECONFIG is empty');
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
    throw new Error(
      'kubernetes discovery: no cluster configuration (not in a pod, no KUBECONFIG, no ~/.kube/config); use --discovery file outside a cluster',
    );
  }
  if (kubeConfig.getCurrentCluster() === null) throw new Error('kubernetes discovery: the kubeconfig has no current cluster');
  return kubeConfig;
}
