// Chooses the discovery backend from the controller's configuration. Both backends are imported
// lazily, so a controller in file mode never loads the Kubernetes client (and its dependencies).
import { Logger } from '../../log/logger.ts';
import type { ControllerConfig } from '../config.ts';
import { loadKubeConfig } from '../kubeconfig.ts';
import type { DiscoveryBackend } from './types.ts';

type Env = Readonly<Record<string, string | undefined>>;

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
  let kubeConfig;
  try {
    kubeConfig = await loadKubeConfig(env, 'kubernetes discovery');
  } catch (error) {
    const message = (error as Error).message;
    throw new Error(message.includes('no cluster configuration') ? `${message}; use --discovery file outside a cluster` : message);
  }
  const cluster = kubeConfig.getCurrentCluster();
  if (cluster === null) throw new Error('kubernetes discovery: the kubeconfig has no current cluster');
  log.info('kubernetes discovery', { server: cluster.server, context: kubeConfig.getCurrentContext() });
  const { KubernetesDiscovery } = await import('./kubernetes/kubernetes-discovery.ts');
  return new KubernetesDiscovery(kubeConfig, {
    clusterDomain: config.clusterDomain,
    controlPlaneNamespace: config.controlPlaneNamespace,
    trustDomain: config.trustDomain,
    log: scoped('discovery.kubernetes'),
  });
}
