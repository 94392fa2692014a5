// Saturation runs: autocannon (HTTP/1.1) and h2load (h2c, gRPC) flat out for a fixed duration, each as
// its own process pinned to the load core; their outputs parsed into request counts.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { start } from './procs.ts';
import { GRPC_PATH, GRPC_REQUEST } from './grpc-frame.ts';
import type { Protocol } from './types.ts';

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
  if (o.protocol === 'h1') {
    const bin = join(o.root, 'node_modules', 'autocannon', 'autocannon.js');
    const args = [bin, '-c', String(o.connections), '-d', String(o.seconds), '-j', '-n', `http://127.0.0.1:${o.port}/`];
    return parseAutocannon(await collect('autocannon', process.execPath, args, o.core, limitMs));
  }
  // h2load takes whole seconds, or a unit: give milliseconds.
  const args = ['-t', '1', '-c', String(o.connections), '-m', String(o.streams), '-D', `${Math.round(o.seconds * 1000)}ms`];
  let url = `http://127.0.0.1:${o.port}/`;
  if (o.protocol === 'grpc') {
    const body = join(o.tmpDir, 'grpc-request.bin');
    if (!existsSync(body)) writeFileSync(body, GRPC_REQUEST);
    args.push('-d', body, '-H', 'content-type: application/grpc', '-H', 'te: trailers');
    url = `http://127.0.0.1:${o.port}${GRPC_PATH}`;
  }
  args.push(url);
  return parseH2load(await collect('h2load', 'h2load', args, o.core, limitMs));
}
