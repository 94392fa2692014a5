// `sluice top`: a live table of a resource's requests (Linkerd's `top`), built from the same tap stream
// as `sluice tap`: one row per source, destination, method and path, most requests first. On a
// terminal the table is redrawn in place (q or Ctrl-C quits); otherwise a snapshot is printed every
// --interval, and a last one when the stream ends.
import { defaultNamespace } from './namespace.ts';
import { parseArgs } from 'node:util';
import { CliError } from './api-client.ts';
import type { CliIo } from './io.ts';
import { TopTable, renderTop } from './tap-format.ts';
import { TAP_OPTIONS, interruptSignal, streamTap, tapRequest } from './tap.ts';

export const TOP_USAGE = `Display a live table of a resource's requests, most frequent first.

Usage:
  sluice top [flags] (TYPE [NAME] | TYPE/NAME)

TYPE is one of: deploy (deployment), sts, ds, job, cj, rc, rs, po (pod), ns (namespace).

Columns: Source, Destination (pods, or addresses when the pod is not known), Method, Path, Count,
Best / Worst / Last latency (request start to response end) and Success Rate (HTTP status below 500,
and no gRPC Unknown, DeadlineExceeded, Internal, Unavailable or DataLoss, and no reset).

Examples:
  sluice top deploy/web -n emojivoto
  sluice top ns/emojivoto --path /api/ --hide-sources

Flags:
  -n, --namespace NS        namespace of the resource (default "default")
  -l, --selector SELECTOR   only pods with these labels
      --to RESOURCE         only requests sent to RESOURCE (TYPE/NAME)
      --to-namespace NS     namespace of --to (default: --namespace)
      --method METHOD       only requests with this HTTP method
      --scheme SCHEME       only requests with this scheme
      --authority AUTH      only requests with this authority
      --path PREFIX         only requests whose path starts with PREFIX
      --max-rps N           requests per second to observe, shared by the pods (default 100)
      --hide-sources        leave out the Source column
      --interval DURATION   without a terminal: print the table this often (default 2s)
      --api HOST:PORT       the controller's public API (default: SLUICE_API_ADDR, else 127.0.0.1:8085)
      --kubeconfig FILE     in a cluster, whose credentials tap is authorized with (see sluice tap --help)
      --context NAME        kubeconfig context to use
  -h, --help
`;

const ESC = '\x1b[';
const REDRAW_MS = 250;

function intervalMs(value: string | undefined): number {
  if (value === undefined) return 2000;
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(value);
  if (match === null) throw new CliError(`--interval must be a duration such as 500ms, 2s or 1m, not "${value}"`, 2);
  const ms = Number(match[1]) * { ms: 1, s: 1000, m: 60_000 }[(match[2] ?? 's') as 'ms' | 's' | 'm'];
  if (ms < 100) throw new CliError('--interval must be at least 100ms', 2);
  return ms;
}

export interface TopScreen {
  readonly tty: boolean;
  readonly rows: number;
  readonly columns: number;
}

function processScreen(): TopScreen {
  return { tty: process.stdout.isTTY === true, rows: process.stdout.rows ?? 24, columns: process.stdout.columns ?? 80 };
}

/** A whole screen: title, table cut to the terminal's height, each line cut to its width. */
export function renderScreen(title: string, table: string, screen: TopScreen): string {
  const lines = [title, '', ...table.trimEnd().split('\n')].slice(0, Math.max(3, screen.rows - 1));
  const cut = lines.map((line) => ([...line].length > screen.columns ? [...line].slice(0, screen.columns).join('') : line));
  // Home, then each line cleared to its end, then everything below cleared: no flicker, no leftovers.
  return `${ESC}H${cut.map((line) => `${line}${ESC}K`).join('\n')}\n${ESC}J`;
}

export async function run(args: string[], io: CliIo, signal?: AbortSignal, screen: TopScreen = processScreen()): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: { ...TAP_OPTIONS, 'hide-sources': { type: 'boolean' }, interval: { type: 'string' } },
    allowPositionals: true,
    strict: true,
  });
  if (values.help === true) {
    io.stdout(TOP_USAGE);
    return 0;
  }
  const request = tapRequest(positionals, { ...values, namespace: defaultNamespace(values.namespace, io.env) });
  const every = intervalMs(values.interval);
  const hideSources = values['hide-sources'] === true;
  const target = positionals.join(' ');
  const table = new TopTable();
  let seen = 0;
  let changed = false;
  const interrupt = signal === undefined ? interruptSignal() : undefined;
  const abort = new AbortController();
  const stopSignal = signal ?? (interrupt as NonNullable<typeof interrupt>).signal;
  const stop = (): void => abort.abort();
  stopSignal.addEventListener('abort', stop, { once: true });

  const draw = (): void => {
    if (screen.tty) {
      const title = `sluice top ${target} — ${seen} requests seen (q or Ctrl-C to quit)`;
      const body = seen === 0 ? 'Waiting for requests…\n' : renderTop(table.rows(), { hideSources, limit: Math.max(1, screen.rows - 4), maxPath: 60 });
      io.stdout(renderScreen(title, body, screen));
    } else if (seen > 0) {
      io.stdout(`${renderTop(table.rows(), { hideSources })}\n`);
    }
    changed = false;
  };

  // On a terminal: an alternate screen without a cursor, and q (or Ctrl-C, which raw mode delivers as
  // a key) to quit.
  const stdin = process.stdin;
  const keys = screen.tty && stdin.isTTY === true && signal === undefined;
  const onKey = (key: Buffer): void => {
    const text = key.toString();
    if (text === 'q' || text === 'Q' || text === '\x03') abort.abort();
  };
  if (screen.tty) io.stdout(`${ESC}?1049h${ESC}?25l`);
  if (keys) {
    stdin.setRawMode(true);
    stdin.on('data', onKey);
    stdin.resume();
  }
  const timer = setInterval(() => {
    if (changed || screen.tty) draw();
  }, screen.tty ? REDRAW_MS : every);
  if (screen.tty) draw();
  try {
    await streamTap(
      values.api,
      io,
      request,
      (event) => {
        table.add(event);
        if (event.http?.response_end) seen++;
        changed = true;
      },
      abort.signal,
      { kubeconfig: values.kubeconfig, context: values.context },
    );
  } finally {
    clearInterval(timer);
    stopSignal.removeEventListener('abort', stop);
    interrupt?.done();
    if (keys) {
      stdin.removeListener('data', onKey);
      stdin.setRawMode(false);
      stdin.pause();
    }
    if (screen.tty) io.stdout(`${ESC}?25h${ESC}?1049l`);
  }
  // What was seen stays on the terminal (the alternate screen is gone) or ends the output.
  if (seen === 0) io.stderr('No requests seen.\n');
  else if (screen.tty || changed) io.stdout(renderTop(table.rows(), { hideSources }));
  return 0;
}
