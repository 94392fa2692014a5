// `sluice tap`: live requests of a resource, one line per event in Linkerd's format, streamed from the
// controller's tap relay (`TapByResource` on the public API) until Ctrl-C.
import { defaultNamespace } from './namespace.ts';
import { parseArgs } from 'node:util';
import { ApiClient, apiBaseUrl, CliError } from './api-client.ts';
import type { CliIo } from './io.ts';
import { kubeAuthorization } from './kube-token.ts';
import { formatTapLine, tapEventJson, type TapEventJson } from './tap-format.ts';
import { parseResourceFlag, parseTargets } from './targets.ts';

export const TAP_USAGE = `Listen to a traffic stream: every request of a resource's pods, as it happens.

Usage:
  sluice tap [flags] (TYPE [NAME] | TYPE/NAME)

TYPE is one of: deploy (deployment), sts, ds, job, cj, rc, rs, po (pod), ns (namespace).

Examples:
  sluice tap deploy/web -n emojivoto
  sluice tap deploy/web -n emojivoto --to deploy/voting --path /emojivoto.v1.VotingService/
  sluice tap ns/emojivoto --method POST -o wide

Each request is three lines: req (it began), rsp (its response began: status, latency since the
request) and end (it ended: gRPC status or reset code, duration since the response began, body size).

Flags:
  -n, --namespace NS        namespace of the resource (default "default")
  -l, --selector SELECTOR   only pods with these labels (e.g. app=web,tier!=db)
      --to RESOURCE         only requests sent to RESOURCE (TYPE/NAME)
      --to-namespace NS     namespace of --to (default: --namespace)
      --method METHOD       only requests with this HTTP method
      --scheme SCHEME       only requests with this scheme (http, https)
      --authority AUTH      only requests with this authority (host:port)
      --path PREFIX         only requests whose path starts with PREFIX
      --max-rps N           requests per second to observe, shared by the pods (default 100)
  -o, --output FORMAT       (default) lines; wide (adds each side's labels); json (one object per line)
      --api HOST:PORT       the controller's public API (default: SLUICE_API_ADDR, else 127.0.0.1:8085)
      --kubeconfig FILE     in a cluster, whose credentials tap is authorized with (default: KUBECONFIG,
                            else ~/.kube/config); sent only to a loopback or https API
      --context NAME        kubeconfig context to use
  -h, --help

In a cluster the controller checks that your kubeconfig user may tap the resource (RBAC: watch on
<kind>s/tap in API group tap.sluice.dev; the ClusterRoles sluice-tap-<ns> and sluice-tap-admin-<ns>
grant it). Users that authenticate with a client certificate have no token to send.
`;

export const TAP_OPTIONS = {
  namespace: { type: 'string', short: 'n' },
  selector: { type: 'string', short: 'l' },
  to: { type: 'string' },
  'to-namespace': { type: 'string' },
  method: { type: 'string' },
  scheme: { type: 'string' },
  authority: { type: 'string' },
  path: { type: 'string' },
  'max-rps': { type: 'string' },
  api: { type: 'string' },
  kubeconfig: { type: 'string' },
  context: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Types whose pods can be tapped; services and authorities own no pods. */
const TAPPABLE = new Set(['deployment', 'statefulset', 'daemonset', 'job', 'cronjob', 'replicationcontroller', 'replicaset', 'pod', 'namespace']);

export interface TapFlags {
  namespace?: string | undefined;
  selector?: string | undefined;
  to?: string | undefined;
  'to-namespace'?: string | undefined;
  method?: string | undefined;
  scheme?: string | undefined;
  authority?: string | undefined;
  path?: string | undefined;
  'max-rps'?: string | undefined;
}

/** The TapByResourceRequest (proto/public.proto, JSON field names) for a command line. */
export function tapRequest(positionals: readonly string[], flags: TapFlags, extractHeaders = false): Record<string, unknown> {
  const targets = parseTargets(positionals);
  const target = targets[0];
  if (targets.length !== 1 || target === undefined) throw new CliError('tap takes one resource, e.g. deploy/web', 2);
  if (!TAPPABLE.has(target.type)) throw new CliError(`cannot tap a ${target.type}: its requests are seen by the pods that send or serve them; tap those (e.g. deploy/NAME)`, 2);
  const namespace = flags.namespace ?? 'default';
  const matches: object[] = [];
  if (flags.to !== undefined) {
    const to = parseResourceFlag('--to', flags.to);
    if (!TAPPABLE.has(to.type)) throw new CliError(`--to must name pods (deploy/NAME, po/NAME, ns/NAME …), not a ${to.type}`, 2);
    matches.push({ destinations: { resource: { namespace: flags['to-namespace'] ?? namespace, type: to.type, name: to.name } } });
  }
  for (const key of ['scheme', 'method', 'authority', 'path'] as const) {
    const value = flags[key];
    if (value !== undefined && value !== '') matches.push({ http: { [key]: key === 'method' ? value.toUpperCase() : value } });
  }
  let maxRps = 100;
  if (flags['max-rps'] !== undefined) {
    maxRps = Number(flags['max-rps']);
    if (!Number.isFinite(maxRps) || maxRps <= 0) throw new CliError(`--max-rps must be a number above 0, not "${flags['max-rps']}"`, 2);
  }
  const request: Record<string, unknown> = {
    target: { resource: { namespace, type: target.type, name: target.name }, label_selector: flags.selector ?? '' },
    maxRps,
  };
  if (matches.length > 0) request['match'] = { all: { matches } };
  // Linkerd 2.x's `extract` (headers for -o json); the controller passes it on where its API declares it.
  if (extractHeaders) request['extract'] = { http: { headers: {} } };
  return request;
}

/** Where the caller's Kubernetes credentials come from (`--kubeconfig`, `--context`). */
export interface TapKubeFlags {
  readonly kubeconfig?: string | undefined;
  readonly context?: string | undefined;
}

/**
 * Streams TapEvents until the relay ends the stream or `signal` aborts (Ctrl-C), with the kubeconfig
 * user's bearer token when there is one to send (kube-token.ts).
 */
export async function streamTap(
  api: string | undefined,
  io: CliIo,
  request: object,
  onEvent: (event: TapEventJson) => void,
  signal: AbortSignal,
  kube: TapKubeFlags = {},
): Promise<void> {
  const base = apiBaseUrl(api, io.env);
  const authorization = await kubeAuthorization(base, { kubeconfig: kube.kubeconfig, context: kube.context, env: io.env });
  const client = new ApiClient(base, authorization === undefined ? {} : { authorization });
  await client.stream<TapEventJson>('TapByResource', request, onEvent, signal);
}

/** An AbortSignal that fires on Ctrl-C (SIGINT) or SIGTERM; `done()` removes the handlers. */
export function interruptSignal(): { signal: AbortSignal; done: () => void } {
  const abort = new AbortController();
  const stop = (): void => abort.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return {
    signal: abort.signal,
    done: () => {
      process.removeListener('SIGINT', stop);
      process.removeListener('SIGTERM', stop);
    },
  };
}

export async function run(args: string[], io: CliIo, signal?: AbortSignal): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: { ...TAP_OPTIONS, output: { type: 'string', short: 'o' } },
    allowPositionals: true,
    strict: true,
  });
  if (values.help === true) {
    io.stdout(TAP_USAGE);
    return 0;
  }
  const output = values.output ?? '';
  if (output !== '' && output !== 'wide' && output !== 'json') throw new CliError(`--output must be wide or json, not "${output}"`, 2);
  const request = tapRequest(positionals, { ...values, namespace: defaultNamespace(values.namespace, io.env) }, output === 'json');
  const interrupt = signal === undefined ? interruptSignal() : undefined;
  try {
    await streamTap(
      values.api,
      io,
      request,
      (event) => io.stdout(`${output === 'json' ? JSON.stringify(tapEventJson(event)) : formatTapLine(event, output === 'wide')}\n`),
      signal ?? (interrupt as NonNullable<typeof interrupt>).signal,
      { kubeconfig: values.kubeconfig, context: values.context },
    );
  } finally {
    interrupt?.done();
  }
  return 0;
}
