// The fault matrix's bookkeeping and topologies. Each cell records what it measured (written to
// test/faults/results/<suite>.json, one file per test file so that files running in parallel never
// share one) before it asserts, so the table in docs/reliability.md (`node test/faults/render.ts`)
// shows the last measurement, passing or not. Cells that do not apply are recorded with the reason.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startProxy, type RunningProxy } from '../support/proxy.ts';
import type { Protocol } from './load.ts';

export const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));

export const ROWS = [
  'upstream resets mid-body / mid-stream',
  'client aborts mid-request',
  'slowloris, header and CONTINUATION floods, oversized heads',
  'upstream never answers / refuses / vanishes',
  'controller down, then back',
  'a worker thread crashes under load',
  'SIGTERM with requests in flight',
  'load above capacity',
  'a flood of distinct authorities',
] as const;
export type Row = (typeof ROWS)[number];
export const COLUMNS: readonly Protocol[] = ['http1', 'h2c', 'grpc', 'tcp'];
/**
 * Where a cell ran: one proxy process with one or two workers, two proxies in a chain (outbound, then
 * inbound), or the mesh hop (mesh-hop.ts: an outbound proxy with an identity, a service resolved through
 * Destination to one meshed endpoint that terminates the mesh TLS and speaks HTTP/2).
 */
export type Topology = '1 worker' | '2 workers' | 'chain' | 'mesh hop';

export interface CellResult {
  readonly row: Row;
  readonly column: Protocol;
  readonly topology: Topology | 'n/a';
  /** What the cell requires, in words. */
  readonly expected: string;
  /** What it measured: counts of outcomes, statuses, and so on. */
  readonly measured: Record<string, unknown>;
  readonly pass: boolean | 'n/a';
  readonly measuredAt: string;
}

/** One results file per test file; cells of a file are merged into it as they finish. */
export class Results {
  private readonly path: string;
  private readonly cells: CellResult[] = [];

  constructor(suite: string) {
    mkdirSync(RESULTS_DIR, { recursive: true });
    this.path = `${RESULTS_DIR}${suite}.json`;
  }

  record(cell: Omit<CellResult, 'measuredAt'>): void {
    const i = this.cells.findIndex((c) => c.row === cell.row && c.column === cell.column && c.topology === cell.topology);
    const full = { ...cell, measuredAt: new Date().toISOString() };
    if (i >= 0) this.cells[i] = full;
    else this.cells.push(full);
    writeFileSync(this.path, `${JSON.stringify(this.cells, null, 2)}\n`);
  }

  notApplicable(row: Row, column: Protocol, why: string): void {
    this.record({ row, column, topology: 'n/a', expected: why, measured: {}, pass: 'n/a' });
  }
}

export function readResults(file: string): CellResult[] {
  return JSON.parse(readFileSync(file, 'utf8')) as CellResult[];
}

/** The proxies of one topology, and the address clients send to. */
export interface Running {
  readonly topology: Topology;
  /** The listener clients connect to (the outbound listener of the first proxy). */
  readonly port: number;
  /** Host / :authority that routes to the upstream (through the whole chain). */
  readonly authority: string;
  readonly proxies: readonly RunningProxy[];
  /** The proxy clients talk to. */
  readonly entry: RunningProxy;
  stop(): Promise<void>;
}

/**
 * Starts `topology` in front of `upstream` (host:port). Requests name the entry proxy's own outbound
 * listener as their authority, so the proxy sends them to its forward address: the upstream, or in the
 * chain the second proxy's inbound listener, which forwards to the upstream. The mesh hop has a
 * starter of its own (mesh-hop.ts).
 */
export async function startTopology(topology: Exclude<Topology, 'mesh hop'>, upstream: string, env: Record<string, string> = {}, command?: readonly [string, ...string[]]): Promise<Running> {
  const proxies: RunningProxy[] = [];
  const stopAll = async (): Promise<void> => {
    await Promise.all(proxies.map((p) => p.stop('SIGKILL')));
  };
  try {
    let next = upstream;
    if (topology === 'chain') {
      // The inbound side times out a little before the outbound side, so the answer that reaches the
      // client is the one made nearest the fault.
      const inbound = await startProxy({ SLUICE_PROXY_INBOUND_FORWARD_ADDR: upstream, ...env, ...innerTimeouts(env) }, command);
      proxies.push(inbound);
      next = `127.0.0.1:${inbound.inbound.port}`;
    }
    const entry = await startProxy({ SLUICE_PROXY_OUTBOUND_FORWARD_ADDR: next, SLUICE_PROXY_WORKERS: topology === '2 workers' ? '2' : '1', ...env }, command);
    proxies.unshift(entry);
    return { topology, port: entry.outbound.port, authority: `127.0.0.1:${entry.outbound.port}`, proxies, entry, stop: stopAll };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/** For the chain's inner proxy: the response timeout 20 % shorter than the one given. */
function innerTimeouts(env: Record<string, string>): Record<string, string> {
  const t = env['SLUICE_PROXY_HTTP_RESPONSE_TIMEOUT'];
  const ms = t === undefined ? undefined : /^(\d+)ms$/.exec(t)?.[1];
  return ms === undefined ? {} : { SLUICE_PROXY_HTTP_RESPONSE_TIMEOUT: `${Math.round(Number(ms) * 0.8)}ms` };
}
