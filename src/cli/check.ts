// `sluice check [--pre] [--proxy] [-o json]`: checks the cluster before install (--pre), the control
// plane after, and the data plane with --proxy, through the user's kubeconfig. Exit status 0 when no
// check failed (warnings allowed), 1 otherwise.
import { parseArgs } from 'node:util';
import { categories, kubeClients, type CheckContext, type KubeClients } from './check/checks.ts';
import { renderJson, renderText, runChecks } from './check/runner.ts';
import { CliError } from './api-client.ts';
import type { CliIo } from './io.ts';
import { loadKubeConfig } from './kubeconfig.ts';
import { clientVersion } from './version.ts';

export const CHECK_USAGE = `Check the Kubernetes cluster and the Sluice installation for problems.

Usage:
  sluice check [flags]

Flags:
      --pre                          checks to run before installing (API server, version, permissions)
      --proxy                        also check the data plane: every pod with a sluice-proxy container
  -n, --namespace NS                 with --proxy: only this namespace (default: all)
      --control-plane-namespace NS   default sluice
  -o, --output basic|json            default basic
      --kubeconfig FILE              default: KUBECONFIG, else ~/.kube/config
      --context NAME                 kubeconfig context to use
  -h, --help
`;

const OPTIONS = {
  pre: { type: 'boolean' },
  proxy: { type: 'boolean' },
  namespace: { type: 'string', short: 'n' },
  'control-plane-namespace': { type: 'string' },
  output: { type: 'string', short: 'o' },
  kubeconfig: { type: 'string' },
  context: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export async function run(args: string[], io: CliIo, now: Date = new Date()): Promise<number> {
  const { values: flags, positionals } = parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true });
  if (flags.help === true) {
    io.stdout(CHECK_USAGE);
    return 0;
  }
  if (positionals.length > 0) throw new CliError(`check takes no arguments (got "${positionals.join(' ')}")`, 2);
  const output = flags.output ?? 'basic';
  if (output !== 'basic' && output !== 'json') throw new CliError(`--output must be basic or json (got "${output}")`, 2);
  if (flags.pre === true && flags.proxy === true) throw new CliError('--pre and --proxy cannot be used together', 2);

  let clients: Promise<KubeClients> | undefined;
  const ctx: CheckContext = {
    namespace: flags['control-plane-namespace'] ?? 'sluice',
    cliVersion: clientVersion(),
    proxyNamespace: flags.namespace,
    now,
    kube: () => (clients ??= loadKubeConfig({ kubeconfig: flags.kubeconfig, context: flags.context, env: io.env }).then(kubeClients)),
    memo: new Map(),
  };
  const report = await runChecks(categories({ pre: flags.pre === true, proxy: flags.proxy === true }), ctx);
  io.stdout(output === 'json' ? renderJson(report) : renderText(report));
  return report.success ? 0 : 1;
}
