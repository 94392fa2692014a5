// `sluice install`: prints the control plane's manifests for `kubectl apply -f -`. Values come from
// the defaults, then `--values FILE`, then flags (the same layers and checks as `sluice inject`); the
// identity trust anchors and issuer are generated unless given as files (always give them on
// upgrade, or every proxy's certificate stops being trusted). Nothing touches the cluster.
import { proxyScrapeConfig } from '../install/prometheus-scrape.ts';
import { parseArgs } from 'node:util';
import { readFile } from 'node:fs/promises';
import { checkValuesOverride, defaultValues, mergeValues, parseValuesYaml, ValuesError, type Values, type ValuesOverride } from '../inject/values.ts';
import { CredentialsError, generateWebhookCredentials, identityCredentials } from '../install/credentials.ts';
import { installObjects, renderYaml } from '../install/manifests.ts';
import { CliError } from './api-client.ts';
import { flagsOverride } from './inject.ts';
import type { CliIo } from './io.ts';
import { clientVersion } from './version.ts';

export const INSTALL_USAGE = `Print the Sluice control plane's Kubernetes manifests.

Usage:
  sluice install [flags] | kubectl apply -f -

Flags:
      --values FILE                          values file (YAML), below these flags and over the defaults
      --ha                                   three controller replicas, anti-affinity, disruption budget, resources
      --identity-trust-anchors-file FILE     PEM trust anchors        ┐ all three, or none to generate a new
      --identity-issuer-certificate-file FILE PEM issuer certificate  │ anchor and issuer (give the same files
      --identity-issuer-key-file FILE        PEM issuer private key   ┘ again on every upgrade)
      --control-plane-namespace NS           default sluice
      --cluster-domain DOMAIN                default cluster.local
      --identity-trust-domain DOMAIN         default cluster.local
      --controller-image NAME                default ghcr.io/sluice-mesh/controller
      --controller-version TAG               default: this CLI's version
      --controller-log-level LEVEL           error, warn, info, debug, trace (default info)
      --proxy-image NAME / --proxy-version TAG, --init-image NAME / --init-image-version TAG
      --proxy-log-level LEVEL, --proxy-log-format plain|json
      --proxy-cpu-request QTY, --proxy-cpu-limit QTY, --proxy-memory-request QTY, --proxy-memory-limit QTY
      --proxy-uid UID, --opaque-ports PORTS, --skip-inbound-ports PORTS, --skip-outbound-ports PORTS
      --default-inbound-policy POLICY        the cluster's default inbound policy (all-unauthenticated)
      --require-identity-inbound-ports PORTS
      --[no-]proxy-await
      --prometheus-scrape-config             print, instead of the manifests, the Prometheus scrape job for
                                             every meshed proxy (for sluice-controller --prometheus-url)
  -h, --help

The proxy settings are stored in the sluice-config ConfigMap; the injector webhook applies them to
every pod it injects. docs/install.md lists every value.
`;

const OPTIONS = {
  values: { type: 'string' },
  ha: { type: 'boolean' },
  'identity-trust-anchors-file': { type: 'string' },
  'identity-issuer-certificate-file': { type: 'string' },
  'identity-issuer-key-file': { type: 'string' },
  'control-plane-namespace': { type: 'string' },
  'cluster-domain': { type: 'string' },
  'identity-trust-domain': { type: 'string' },
  'controller-image': { type: 'string' },
  'controller-version': { type: 'string' },
  'controller-log-level': { type: 'string' },
  'proxy-image': { type: 'string' },
  'proxy-version': { type: 'string' },
  'init-image': { type: 'string' },
  'init-image-version': { type: 'string' },
  'proxy-log-level': { type: 'string' },
  'proxy-log-format': { type: 'string' },
  'proxy-cpu-request': { type: 'string' },
  'proxy-cpu-limit': { type: 'string' },
  'proxy-memory-request': { type: 'string' },
  'proxy-memory-limit': { type: 'string' },
  'proxy-uid': { type: 'string' },
  'opaque-ports': { type: 'string' },
  'default-inbound-policy': { type: 'string' },
  'require-identity-inbound-ports': { type: 'string' },
  'skip-inbound-ports': { type: 'string' },
  'skip-outbound-ports': { type: 'string' },
  'proxy-await': { type: 'boolean' },
  'prometheus-scrape-config': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Flags = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true; allowNegative: true }>>['values'];

/** The controller's own flags as a values layer (the proxy's are shared with `sluice inject`). */
function controllerOverride(flags: Flags): ValuesOverride {
  const layers: ValuesOverride[] = [];
  const add = (flag: 'controller-image' | 'controller-version' | 'controller-log-level', layer: (v: string) => ValuesOverride): void => {
    const v = flags[flag];
    if (typeof v === 'string') layers.push(checkValuesOverride(layer(v), { name: `--${flag}` }));
  };
  add('controller-image', (v) => ({ controller: { image: { name: v } } }));
  add('controller-version', (v) => ({ controller: { image: { version: v } } }));
  add('controller-log-level', (v) => ({ controller: { logLevel: v } }));
  return mergeValues({} as Values, ...layers) as ValuesOverride;
}

async function resolveValues(flags: Flags): Promise<Values> {
  let fileLayer: ValuesOverride = {};
  if (flags.values !== undefined) {
    let text: string;
    try {
      text = await readFile(flags.values, 'utf8');
    } catch (error) {
      throw new CliError(`cannot read values file ${flags.values}: ${(error as Error).message}`, 1);
    }
    fileLayer = parseValuesYaml(text, flags.values);
  }
  return mergeValues(defaultValues(clientVersion()), fileLayer, flagsOverride(flags), controllerOverride(flags));
}

/** The manifests `sluice install` prints for these arguments. */
export async function renderInstall(args: string[]): Promise<string | 'help'> {
  const { values: flags, positionals } = parseArgs({ args, options: OPTIONS, allowPositionals: true, allowNegative: true, strict: true });
  if (flags.help === true) return 'help';
  if (positionals.length > 0) throw new CliError(`install takes no arguments (got "${positionals.join(' ')}")`, 2);
  try {
    const base = await resolveValues(flags);
    if (flags['prometheus-scrape-config'] === true) {
      return `# Sluice proxies: append to scrape_configs of your Prometheus (docs/controller.md).\n${proxyScrapeConfig({ controlPlaneNamespace: base.controlPlaneNamespace })}`;
    }
    if (base.identity.trustAnchorsPEM.trim() !== '' && flags['identity-trust-anchors-file'] === undefined) {
      throw new CliError('identity.trustAnchorsPEM in a values file is not used by install: give the anchors and issuer with the --identity-*-file flags', 2);
    }
    const identity = await identityCredentials(base, {
      trustAnchors: flags['identity-trust-anchors-file'],
      issuerCertificate: flags['identity-issuer-certificate-file'],
      issuerKey: flags['identity-issuer-key-file'],
    });
    const values = mergeValues(base, { identity: { trustAnchorsPEM: identity.anchorsPem } });
    const webhook = await generateWebhookCredentials(values);
    const objects = installObjects({ values, ha: flags.ha === true, identity, webhook });
    return renderYaml(objects, `Sluice ${clientVersion()} control plane${flags.ha === true ? ' (high availability)' : ''}: sluice install | kubectl apply -f -`);
  } catch (error) {
    if (error instanceof ValuesError || error instanceof CredentialsError) throw new CliError(error.message, 1);
    throw error;
  }
}

export async function run(args: string[], io: CliIo): Promise<number> {
  const output = await renderInstall(args);
  io.stdout(output === 'help' ? INSTALL_USAGE : output);
  return 0;
}
