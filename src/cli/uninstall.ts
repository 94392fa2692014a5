// `sluice uninstall`: prints every object `sluice install` creates — cluster-scoped ones included, last
// created first, names only (no keys) — for `sluice uninstall | kubectl delete --ignore-not-found -f -`.
// It prints the --ha objects too, so one command removes either kind of install.
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { checkValuesOverride, defaultValues, mergeValues, parseValuesYaml, ValuesError, type ValuesOverride } from '../inject/values.ts';
import type { IdentityCredentials, WebhookCredentials } from '../install/credentials.ts';
import { installObjects, renderYaml, uninstallObjects } from '../install/manifests.ts';
import { CliError } from './api-client.ts';
import type { CliIo } from './io.ts';
import { clientVersion } from './version.ts';

export const UNINSTALL_USAGE = `Print what removes the Sluice control plane, for kubectl delete.

Usage:
  sluice uninstall [flags] | kubectl delete --ignore-not-found -f -

Removes the namespace, the controller, its RBAC, the webhook configuration and the custom resource
definitions (and with them every ServiceProfile, Server and ServerAuthorization). Remove the proxies
first: sluice uninject, or delete the sluice.dev/inject annotations and restart the workloads.

Flags:
      --values FILE                  the values file install used (for the namespace)
      --control-plane-namespace NS   default sluice
  -h, --help
`;

const OPTIONS = {
  values: { type: 'string' },
  'control-plane-namespace': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Only names are printed: the credentials' contents never matter here. */
const NO_IDENTITY: IdentityCredentials = { anchorsPem: '', issuerCertPem: '', issuerKeyPem: '' };
const NO_WEBHOOK: WebhookCredentials = { caPem: '', certPem: '', keyPem: '' };

export async function run(args: string[], io: CliIo): Promise<number> {
  const { values: flags, positionals } = parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true });
  if (flags.help === true) {
    io.stdout(UNINSTALL_USAGE);
    return 0;
  }
  if (positionals.length > 0) throw new CliError(`uninstall takes no arguments (got "${positionals.join(' ')}")`, 2);
  try {
    let fileLayer: ValuesOverride = {};
    if (flags.values !== undefined) {
      const text = await readFile(flags.values, 'utf8').catch((error: Error) => {
        throw new CliError(`cannot read values file ${flags.values}: ${error.message}`, 1);
      });
      fileLayer = parseValuesYaml(text, flags.values);
    }
    const namespace = flags['control-plane-namespace'];
    const flagLayer = namespace === undefined ? {} : checkValuesOverride({ controlPlaneNamespace: namespace }, { name: '--control-plane-namespace' });
    const values = mergeValues(defaultValues(clientVersion()), fileLayer, flagLayer);
    const objects = uninstallObjects(installObjects({ values, ha: true, identity: NO_IDENTITY, webhook: NO_WEBHOOK }));
    io.stdout(renderYaml(objects, `Sluice control plane in namespace ${values.controlPlaneNamespace}: sluice uninstall | kubectl delete --ignore-not-found -f -`));
    return 0;
  } catch (error) {
    if (error instanceof ValuesError) throw new CliError(error.message, 1);
    throw error;
  }
}
