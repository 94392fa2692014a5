// `sluice inject [files|folders|-]`: adds the Sluice proxy to the workloads in Kubernetes manifests and
// prints them; a line per resource on stderr says what happened (Linkerd's `linkerd inject --manual`).
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { inject } from '../inject/inject.ts';
import { checkValuesOverride, defaultValues, mergeValues, parseValuesYaml, ValuesError, type Values, type ValuesOverride } from '../inject/values.ts';
import { describeObject } from '../inject/workload.ts';
import { CliError } from './api-client.ts';
import type { CliIo } from './io.ts';
import { fetchTrustAnchors } from './kube-anchors.ts';
import { parseManifest, readManifests } from './manifests.ts';
import { clientVersion } from './version.ts';

export const INJECT_USAGE = `Add the Sluice proxy to Kubernetes workloads.

Reads manifests from files, folders (recursively: .yaml, .yml, .json) or stdin (-), injects every
Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob and Pod (also inside
List kinds), and prints them in the format they came in, comments and key order kept. One line per
resource on stderr says whether it was injected or why not.

Usage:
  sluice inject [flags] FILE|FOLDER|- ...

Examples:
  sluice inject deployment.yml | kubectl apply -f -
  kubectl get deploy -n emojivoto -o yaml | sluice inject - | kubectl apply -f -

Flags:
      --values FILE                      values file (YAML), below these flags and over the defaults
      --identity-trust-anchors-file FILE PEM trust anchors (default: the values file, else the cluster's
                                         sluice-identity-trust-roots ConfigMap through the kubeconfig)
      --kubeconfig FILE                  kubeconfig for reading the trust anchors (default: KUBECONFIG, ~/.kube/config)
      --context NAME                     kubeconfig context to use
      --control-plane-namespace NS       namespace of the control plane (default sluice)
      --cluster-domain DOMAIN            cluster domain (default cluster.local)
      --identity-trust-domain DOMAIN     trust domain of identities (default cluster.local)
      --proxy-image NAME                 proxy image without tag (default ghcr.io/sluice-mesh/proxy)
      --proxy-version TAG                proxy image tag (default: this CLI's version)
      --init-image NAME                  sluice-init image without tag (default: the proxy image)
      --init-image-version TAG           sluice-init image tag (default: this CLI's version)
      --proxy-log-level LEVEL            error, warn, info, debug, trace, or a filter (default warn,sluice=info)
      --proxy-log-format FORMAT          plain or json (default plain)
      --proxy-cpu-request QTY            e.g. 100m (default 100m)
      --proxy-cpu-limit QTY              e.g. 1; also sets the proxy's worker threads (default none)
      --proxy-memory-request QTY         e.g. 128Mi (default 128Mi)
      --proxy-memory-limit QTY           e.g. 256Mi (default none)
      --proxy-uid UID                    the proxy's user id (default 2102)
      --opaque-ports PORTS               inbound ports without protocol detection (default 25,587,3306,4444,5432,6379,9300,11211)
      --skip-inbound-ports PORTS         inbound ports not redirected to the proxy (default 4567,4568)
      --default-inbound-policy POLICY    all-unauthenticated (default), all-authenticated, cluster-authenticated,
                                         cluster-unauthenticated or deny (docs/authorization.md)
      --require-identity-inbound-ports PORTS  inbound ports that admit only meshed clients (default none)
      --skip-outbound-ports PORTS        outbound ports not redirected to the proxy (default 4567,4568)
      --[no-]proxy-await                 start app containers only once the proxy is ready (default on)
  -h, --help
`;

const OPTIONS = {
  values: { type: 'string' },
  'identity-trust-anchors-file': { type: 'string' },
  kubeconfig: { type: 'string' },
  context: { type: 'string' },
  'control-plane-namespace': { type: 'string' },
  'cluster-domain': { type: 'string' },
  'identity-trust-domain': { type: 'string' },
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
  help: { type: 'boolean', short: 'h' },
} as const;

type Flags = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true; allowNegative: true }>>['values'];

/** The flags as a values layer; each flag is checked by the values schema (errors name the flag). */
export function flagsOverride(flags: Flags): ValuesOverride {
  const layers: ValuesOverride[] = [];
  const add = (flag: keyof Flags, layer: (v: string) => ValuesOverride): void => {
    const v = flags[flag];
    if (typeof v === 'string') layers.push(checkValuesOverride(layer(v), { name: `--${flag}` }));
  };
  add('control-plane-namespace', (v) => ({ controlPlaneNamespace: v }));
  add('cluster-domain', (v) => ({ clusterDomain: v }));
  add('identity-trust-domain', (v) => ({ identity: { trustDomain: v } }));
  add('proxy-image', (v) => ({ proxy: { image: { name: v } } }));
  add('proxy-version', (v) => ({ proxy: { image: { version: v } } }));
  add('init-image', (v) => ({ proxyInit: { image: { name: v } } }));
  add('init-image-version', (v) => ({ proxyInit: { image: { version: v } } }));
  add('proxy-log-level', (v) => ({ proxy: { logLevel: v } }));
  add('proxy-log-format', (v) => ({ proxy: { logFormat: v as 'plain' } }));
  add('proxy-cpu-request', (v) => ({ proxy: { resources: { cpu: { request: v } } } }));
  add('proxy-cpu-limit', (v) => ({ proxy: { resources: { cpu: { limit: v } } } }));
  add('proxy-memory-request', (v) => ({ proxy: { resources: { memory: { request: v } } } }));
  add('proxy-memory-limit', (v) => ({ proxy: { resources: { memory: { limit: v } } } }));
  add('proxy-uid', (v) => ({ proxy: { uid: /^[0-9]+$/.test(v) ? Number(v) : (v as unknown as number) } }));
  add('opaque-ports', (v) => ({ proxy: { opaquePorts: v } }));
  add('default-inbound-policy', (v) => ({ proxy: { defaultInboundPolicy: v } }));
  add('require-identity-inbound-ports', (v) => ({ proxy: { requireIdentityInboundPorts: v } }));
  add('skip-inbound-ports', (v) => ({ proxyInit: { skipInboundPorts: v } }));
  add('skip-outbound-ports', (v) => ({ proxyInit: { skipOutboundPorts: v } }));
  if (flags['proxy-await'] !== undefined) layers.push({ proxy: { await: flags['proxy-await'] } });
  return mergeValues({} as Values, ...layers) as ValuesOverride;
}

async function readText(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw new CliError(`cannot read ${what} ${file}: ${(error as Error).message}`, 1);
  }
}

/** Defaults < values file < flags, then the trust anchors from wherever they are. */
async function resolveValues(flags: Flags, io: CliIo): Promise<Values> {
  const version = clientVersion();
  const fileLayer = flags.values === undefined ? {} : parseValuesYaml(await readText(flags.values, 'values file'), flags.values);
  const flagLayer = flagsOverride(flags);
  const anchorsFile = flags['identity-trust-anchors-file'];
  if (anchorsFile !== undefined) {
    const pem = await readText(anchorsFile, 'trust anchors file');
    flagLayer.identity = { ...flagLayer.identity, ...checkValuesOverride({ identity: { trustAnchorsPEM: pem } }, { name: anchorsFile }).identity };
  }
  const values = mergeValues(defaultValues(version), fileLayer, flagLayer);
  if (values.identity.trustAnchorsPEM.trim() !== '') return values;
  const pem = await fetchTrustAnchors(values.controlPlaneNamespace, { kubeconfig: flags.kubeconfig, context: flags.context, env: io.env });
  const checked = checkValuesOverride({ identity: { trustAnchorsPEM: pem } }, { name: `ConfigMap ${values.controlPlaneNamespace}/sluice-identity-trust-roots` });
  return mergeValues(values, checked);
}

export async function run(args: string[], io: CliIo): Promise<number> {
  const { values: flags, positionals } = parseArgs({ args, options: OPTIONS, allowPositionals: true, allowNegative: true, strict: true });
  if (flags.help === true) {
    io.stdout(INJECT_USAGE);
    return 0;
  }
  if (positionals.length === 0) throw new CliError('no input: give files, folders or - for stdin (see sluice inject --help)', 2);
  let values: Values;
  try {
    values = await resolveValues(flags, io);
  } catch (error) {
    if (error instanceof ValuesError) throw new CliError(error.message, 2);
    throw error;
  }
  const manifests = (await readManifests(positionals, io.readStdin ?? readProcessStdin)).map(parseManifest);
  const createdBy = `sluice/cli ${clientVersion()}`;
  let failed = false;
  for (const manifest of manifests) {
    for (const object of manifest.objects) {
      const what = describeObject(object.value);
      const result = inject(object.value, { values, createdBy });
      for (const warning of result.warnings) io.stderr(`${what}: warning: ${warning}\n`);
      if (result.outcome === 'injected') {
        object.apply(result.ops);
        io.stderr(`${what} injected\n`);
      } else if (result.outcome === 'skipped') {
        io.stderr(`${what} skipped: ${result.reason}\n`);
      } else {
        failed = true;
        io.stderr(`${what} not injected: ${result.reason}\n`);
      }
    }
  }
  io.stdout(renderAll(manifests));
  return failed ? 1 : 0;
}

/** Several inputs become one YAML stream (JSON is YAML), separated by `---`. */
export function renderAll(manifests: readonly { render(): string }[]): string {
  return manifests
    .map((m) => m.render())
    .map((text, i) => (i === 0 || text.startsWith('---') ? text : `---\n${text}`))
    .map((text) => (text.endsWith('\n') || text === '' ? text : `${text}\n`))
    .join('');
}

export async function readProcessStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
