// Saturation runs: autocannon (HTTP/1.1) and h2load (h2c, gRPC) flat out for a fixed duration, each as
// its own process pinned to the load core; their outputs parsed into request counts.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { start } from './procs.ts';
import { GRPC_PATH, GRPC_REQUEST } from './grpc-frame.ts';
import type { Protocol, SaturationResult } from './types.ts';

export interface LoadCounts {
  tool: 'autocannon' | 'h2load';
  /** Successful (2xx) responses. */
  requests: number;
  errors: number;
  /** Measured duration the tool reports, seconds. */
  seconds: number;
}

/** Reads `autocannon --json` output. */
export function parseAutocannon(json: string): LoadCounts {
  const d = JSON.parse(json) as Record<string, unknown>;
  const num = (k: string): number => (typeof d[k] === 'number' ? (d[k] as number) : 0);
  return {
    tool: 'autocannon',
    requests: num('2xx'),
    errors: num('errors') + num('timeouts') + num('non2xx') + num('mismatches'),
    seconds: num('duration'),
  };
}

/** Reads h2load's text summary ("finished in 3.00s, …" and "requests: … succeeded, … failed, …"). */
export function parseH2load(text: string): LoadCounts {
  const fin = /finished in ([\d.]+)(m?s)/.exec(text);
  const req = /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(text);
  const codes = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(text);
  if (fin === null || req === null) throw new Error(`cannot read h2load output:\n${text.slice(-800)}`);
  const seconds = Number(fin[1]) / (fin[2] === 'ms' ? 1000 : 1);
  const succeeded = Number(req[4]);
  const ok2xx = codes === null ? succeeded : Number(codes[1]);
  return {
    tool: 'h2load',
    requests: Math.min(succeeded, ok2xx),
    errors: Number(req[5]) + Number(req[6]) + Number(req[7]) + (succeeded - Math.min(succeeded, ok2xx)),
    seconds,
  };
}

export interface SaturationOptions {
  protocol: Protocol;
  port: number;
  seconds: number;
  /** Connections (autocannon) or clients (h2load). */
  connections: number;
  /** h2load: max concurrent streams per connection. */
  streams: number;
  /** Core for the load tool (taskset), or undefined to leave it unpinned. */
  core: number | undefined;
  /** Scratch directory (for h2load's gRPC request body file). */
  tmpDir: string;
  root: string;
  /** Host (HTTP/1.1) or :authority (h2c, gRPC) to send; absent: the address connected to. */
  authority?: string | undefined;
}

export interface LoadCommand {
  tool: LoadCounts['tool'];
  cmd: string;
  args: string[];
}

/** The load tool's command line for these options (`grpcBody`: the file holding one gRPC request). */
export function saturationCommand(o: SaturationOptions, grpcBody: string): LoadCommand {
  if (o.protocol === 'h1') {
    const bin = join(o.root, 'node_modules', 'autocannon', 'autocannon.js');
    const args = [bin, '-c', String(o.connections), '-d', String(o.seconds), '-j', '-n'];
    // autocannon sends a Host header given with -H instead of its own (name=value: the value has colons).
    if (o.authority !== undefined) args.push('-H', `host=${o.authority}`);
    args.push(`http://127.0.0.1:${o.port}/`);
    return { tool: 'autocannon', cmd: process.execPath, args };
  }
  // h2load takes whole seconds, or a unit: give milliseconds.
  const args = ['-t', '1', '-c', String(o.connections), '-m', String(o.streams), '-D', `${Math.round(o.seconds * 1000)}ms`];
  // h2load replaces the URL's authority with an ':authority' header given with -H.
  if (o.authority !== undefined) args.push('-H', `:authority: ${o.authority}`);
  let url = `http://127.0.0.1:${o.port}/`;
  if (o.protocol === 'grpc') {
    args.push('-d', grpcBody, '-H', 'content-type: application/grpc', '-H', 'te: trailers');
    url = `http://127.0.0.1:${o.port}${GRPC_PATH}`;
  }
  args.push(url);
  return { tool: 'h2load', cmd: 'h2load', args };
}

function collect(name: string, cmd: string, args: string[], core: number | undefined, limitMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    const p = start(name, cmd, args, { core, onStdout: (c) => (out += c.toString('utf8')) });
    const timer = setTimeout(() => {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }, limitMs);
    p.exited.then((code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${name} exited with ${code}: ${p.stderrTail().slice(-600)}${out.slice(-600)}`));
    });
  });
}

/** Runs the saturating tool for the protocol; resolves with its counts. */
export async function saturate(o: SaturationOptions): Promise<LoadCounts> {
  const limitMs = (o.seconds + 15) * 1000;
  const body = join(o.tmpDir, 'grpc-request.bin');
  if (o.protocol === 'grpc' && !existsSync(body)) writeFileSync(body, GRPC_REQUEST);
  const c = saturationCommand(o, body);
  const out = await collect(c.tool, c.cmd, c.args, o.core, limitMs);
  return c.tool === 'autocannon' ? parseAutocannon(out) : parseH2load(out);
}

/**
 * The run to keep of several of one target: the median by proxy CPU per request over the backend's in
 * the same run (by requests/s times the backend's µs/req for a target without a proxy, direct): the
 * core's speed changes under us for minutes at a time (checks.ts cpuRatioAtEqualSpeed), and 3-second
 * runs of the same code move by tens of percent on a shared VM besides; the median of a few is what a
 * verdict can stand on. Of an even count, the lower middle.
 */
export function medianRun<T extends Pick<SaturationResult, 'proxyCpuUsPerRequest' | 'rps' | 'backendCpuUsPerRequest'>>(runs: readonly T[]): T | undefined {
  if (runs.length === 0) return undefined;
  const speed = (r: T): number => (r.backendCpuUsPerRequest > 0 ? r.backendCpuUsPerRequest : 1);
  const key = (r: T): number => (r.proxyCpuUsPerRequest === null ? r.rps * speed(r) : r.proxyCpuUsPerRequest / speed(r));
  const sorted = [...runs].sort((a, b) => key(a) - key(b));
  return sorted[(sorted.length - 1) >> 1];
}
