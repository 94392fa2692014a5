// The trust anchors of an installed control plane, for `sluice inject` run without them: the
// `sluice-identity-trust-roots` ConfigMap (key `ca-bundle.crt`) read through the user's kubeconfig.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { CliError } from './api-client.ts';

export const TRUST_ROOTS_CONFIGMAP = 'sluice-identity-trust-roots';
export const TRUST_ROOTS_KEY = 'ca-bundle.crt';

const NO_ANCHORS =
  'no identity trust anchors: pass --identity-trust-anchors-file, set identity.trustAnchorsPEM in --values, ' +
  'or point KUBECONFIG at a cluster where Sluice is installed (sluice install generates them)';

export interface KubeAccess {
  readonly kubeconfig?: string | undefined;
  readonly context?: string | undefined;
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** The kubeconfig files to use, like kubectl: the flag, else KUBECONFIG, else ~/.kube/config. */
function kubeconfigFiles(access: KubeAccess): string[] {
  if (access.kubeconfig !== undefined) return [access.kubeconfig];
  const fromEnv = (access.env['KUBECONFIG'] ?? '').split(path.delimiter).filter((f) => f !== '');
  if (fromEnv.length > 0) return fromEnv;
  const home = path.join(access.env['HOME'] ?? homedir(), '.kube', 'config');
  return existsSync(home) ? [home] : [];
}

export async function fetchTrustAnchors(namespace: string, access: KubeAccess): Promise<string> {
  const files = kubeconfigFiles(access);
  if (files.length === 0) throw new CliError(NO_ANCHORS, 1);
  const { CoreV1Api, KubeConfig } = await import('@kubernetes/client-node');
  const kubeConfig = new KubeConfig();
  try {
    const [first, ...rest] = files as [string, ...string[]];
    kubeConfig.loadFromFile(first);
    for (const file of rest) {
      const more = new KubeConfig();
      more.loadFromFile(file);
      kubeConfig.mergeConfig(more, true);
    }
    if (access.context !== undefined) kubeConfig.setCurrentContext(access.context);
  } catch (error) {
    throw new CliError(`${NO_ANCHORS}\n(the kubeconfig could not be used: ${(error as Error).message})`, 1);
  }
  if (kubeConfig.getCurrentCluster() === null) throw new CliError(`${NO_ANCHORS}\n(the kubeconfig has no current cluster)`, 1);
  const api = kubeConfig.makeApiClient(CoreV1Api);
  let data: Record<string, string> | undefined;
  try {
    data = (await api.readNamespacedConfigMap({ name: TRUST_ROOTS_CONFIGMAP, namespace })).data;
  } catch (error) {
    const code = (error as { code?: number }).code;
    const why = code === 404 ? `ConfigMap ${namespace}/${TRUST_ROOTS_CONFIGMAP} not found (is Sluice installed?)` : (error as Error).message;
    throw new CliError(`${NO_ANCHORS}\n(reading them from ${kubeConfig.getCurrentCluster()?.server}: ${why})`, 1);
  }
  const pem = data?.[TRUST_ROOTS_KEY];
  if (pem === undefined || pem.trim() === '') {
    throw new CliError(`ConfigMap ${namespace}/${TRUST_ROOTS_CONFIGMAP} has no ${TRUST_ROOTS_KEY}`, 1);
  }
  return pem;
}
