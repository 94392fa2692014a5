// The user's kubeconfig as kubectl finds it: `--kubeconfig`, else every file in KUBECONFIG (merged,
// the first current context winning), else ~/.kube/config; then `--context` if given.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';

export interface KubeAccess {
  readonly kubeconfig?: string | undefined;
  readonly context?: string | undefined;
  readonly env: Readonly<Record<string, string | undefined>>;
}

export async function loadKubeConfig(access: KubeAccess): Promise<KubeConfig> {
  const { KubeConfig } = await import('@kubernetes/client-node');
  let files: string[];
  if (access.kubeconfig !== undefined) files = [access.kubeconfig];
  else {
    files = (access.env['KUBECONFIG'] ?? '').split(path.delimiter).filter((f) => f !== '');
    const home = path.join(access.env['HOME'] ?? homedir(), '.kube', 'config');
    if (files.length === 0 && existsSync(home)) files = [home];
  }
  const [first, ...rest] = files;
  if (first === undefined) throw new Error('no kubeconfig: pass --kubeconfig, set KUBECONFIG, or create ~/.kube/config');
  const config = new KubeConfig();
  config.loadFromFile(first);
  for (const file of rest) {
    const more = new KubeConfig();
    more.loadFromFile(file);
    config.mergeConfig(more, true);
  }
  if (access.context !== undefined) {
    if (config.getContextObject(access.context) === null) throw new Error(`context "${access.context}" is not in the kubeconfig`);
    config.setCurrentContext(access.context);
  }
  if (config.getCurrentCluster() === null) throw new Error('the kubeconfig has no current cluster');
  return config;
}
