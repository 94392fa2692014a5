// `sluice edges`: which resources talk to which, and whether over mTLS with which identities, from the
// controller's Edges (Linkerd 2.4+'s `edges`: SRC DST SRC_NS DST_NS SECURED; wide adds CLIENT_ID
// SERVER_ID, and MSG saying why an edge is not secured).
import { parseArgs } from 'node:util';
import type { Edge, EdgesRequest, EdgesResponse } from '../api/public-messages.ts';
import { ApiClient, apiBaseUrl, CliError } from './api-client.ts';
import { NO_VALUE, renderTable, type Column } from './format.ts';
import type { CliIo } from './io.ts';
import { defaultNamespace } from './namespace.ts';
import { outputFormat, timeWindow, type OutputFormat } from './stat.ts';
import { parseTargets } from './targets.ts';

export const EDGES_USAGE = `Display the edges between resources: who sends traffic to whom, and whether it is mTLS.

Usage:
  sluice edges [flags] TYPE

TYPE is one of: deploy (deployment), sts, ds, job, cj, rc, rs, po (pod). An edge is traffic a resource's
proxies sent to another meshed resource within the time window. SECURED is √ when all of it went over
mTLS and both ends' identities are known: CLIENT_ID is the caller as the destination's proxy verified
it, SERVER_ID the identity the destination proved; MSG says why an edge is not secured.

Examples:
  sluice edges deploy -n emojivoto
  sluice edges po -A -o wide

Flags:
  -n, --namespace NS        edges with either end in NS (default "default"; every namespace without a kubeconfig)
  -A, --all-namespaces      edges in every namespace
  -t, --time-window WINDOW  10s, 1m, 10m or 1h (default 1m)
  -o, --output FORMAT       table (default), wide (adds CLIENT_ID, SERVER_ID, MSG) or json
      --api HOST:PORT       the controller's public API (default: SLUICE_API_ADDR, else 127.0.0.1:8085)
  -h, --help
`;

const OPTIONS = {
  namespace: { type: 'string', short: 'n' },
  'all-namespaces': { type: 'boolean', short: 'A' },
  'time-window': { type: 'string', short: 't' },
  output: { type: 'string', short: 'o' },
  api: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Linkerd's marks for the SECURED column. */
export const SECURED = '√';
export const NOT_SECURED = '×';

export async function run(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true });
  if (values.help === true) {
    io.stdout(EDGES_USAGE);
    return 0;
  }
  const targets = parseTargets(positionals);
  const target = targets[0];
  if (targets.length !== 1 || target === undefined || target.name !== '') throw new CliError('edges takes one resource type, e.g. deploy or po', 2);
  const output = outputFormat(values.output);
  const window = timeWindow(values['time-window']);
  const current = defaultNamespace(values.namespace, io.env);
  const namespace = values['all-namespaces'] === true || current === undefined ? '' : current;
  const request: EdgesRequest = { selector: { resource: { namespace, type: target.type } }, time_window: window };
  const response = await new ApiClient(apiBaseUrl(values.api, io.env)).call<EdgesResponse>('Edges', request);
  if (response.error !== undefined && response.error !== null) throw new CliError(response.error.error ?? 'Edges failed');
  const text = renderEdges(response.ok?.edges ?? [], output);
  if (text === '') io.stderr('No edges found.\n');
  else io.stdout(text);
  return 0;
}

/** The edges as Linkerd's table (wide: identities and why not secured) or a JSON array; '' when none. */
export function renderEdges(edges: readonly Edge[], output: OutputFormat): string {
  if (edges.length === 0) return '';
  if (output === 'json') {
    const rows = edges.map((e) => ({
      src: e.src?.name ?? '',
      src_namespace: e.src?.namespace ?? '',
      dst: e.dst?.name ?? '',
      dst_namespace: e.dst?.namespace ?? '',
      client_id: e.client_id ?? '',
      server_id: e.server_id ?? '',
      secured: e.secured === true,
      no_identity_msg: e.no_identity_msg ?? '',
    }));
    return `${JSON.stringify(rows, null, 2)}\n`;
  }
  const wide = output === 'wide';
  const columns: Column[] = [
    { header: 'SRC', align: 'left' },
    { header: 'DST', align: 'left' },
    { header: 'SRC_NS', align: 'left' },
    { header: 'DST_NS', align: 'left' },
    { header: 'SECURED', align: 'left' },
    ...(wide ? (['CLIENT_ID', 'SERVER_ID', 'MSG'] as const).map((header) => ({ header, align: 'left' as const })) : []),
  ];
  const rows = edges.map((e) => [
    e.src?.name ?? '',
    e.dst?.name ?? '',
    e.src?.namespace ?? '',
    e.dst?.namespace ?? '',
    e.secured === true ? SECURED : NOT_SECURED,
    ...(wide ? [e.client_id || NO_VALUE, e.server_id || NO_VALUE, e.no_identity_msg ?? ''] : []),
  ]);
  return renderTable(columns, rows);
}
