// Which namespace a command means when `-n` is not given: like kubectl and linkerd, the namespace of
// the current kubeconfig context. Without a kubeconfig (a local mesh, no cluster) there is no "current"
// namespace, so `stat` shows every namespace rather than an empty `default`.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';

type Env = Readonly<Record<string, string | undefined>>;

interface KubeConfigFile {
  readonly 'current-context'?: string;
  readonly contexts?: ReadonlyArray<{ readonly name?: string; readonly context?: { readonly namespace?: string } }>;
}

/** The current context's namespace (`default` when the context names none); undefined without a kubeconfig. */
export function kubeconfigNamespace(env: Env): string | undefined {
  const files = env['KUBECONFIG'] !== undefined && env['KUBECONFIG'] !== '' ? env['KUBECONFIG'].split(':') : [join(env['HOME'] ?? homedir(), '.kube', 'config')];
  for (const file of files) {
    let config: KubeConfigFile;
    try {
      config = (parse(readFileSync(file, 'utf8')) ?? {}) as KubeConfigFile;
    } catch {
      continue;
    }
    const current = config['current-context'];
    if (current === undefined) continue;
    const context = config.contexts?.find((c) => c.name === current);
    return context?.context?.namespace ?? 'default';
  }
  return undefined;
}

/** `-n` if given, else `SLUICE_NAMESPACE`, else the kubeconfig's; undefined means "no current namespace". */
export function defaultNamespace(flag: string | undefined, env: Env): string | undefined {
  return flag ?? (env['SLUICE_NAMESPACE'] || undefined) ?? kubeconfigNamespace(env);
}
