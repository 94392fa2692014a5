// Runs the real proxy (`bin/sluice-proxy.js`) as a child process for tests, on ports the OS picks.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { HostPort } from '../../src/config/parse.ts';

const BIN = fileURLToPath(new URL('../../bin/sluice-proxy.js', import.meta.url));
const CRASH_HOOK = fileURLToPath(new URL('./worker-crash-hook.cjs', import.meta.url));

/**
 * The proxy's command with test/support/worker-crash-hook.cjs preloaded: `crashWorker(proxy)` then
 * makes its worker thread 0 die of an uncaught exception.
 */
export const CRASHABLE_PROXY: readonly [string, ...string[]] = [process.execPath, '--require', CRASH_HOOK, BIN];

/** Worker thread 0 of a proxy started with CRASHABLE_PROXY throws an uncaught exception. */
export function crashWorker(proxy: RunningProxy): void {
  proxy.child.kill('SIGUSR2');
}

export interface RunningProxy {
  readonly child: ChildProcess;
  readonly inbound: HostPort;
  readonly outbound: HostPort;
  readonly admin: HostPort;
  /** The Tap gRPC server; undefined when SLUICE_PROXY_TAP_LISTEN_ADDR turned it off. */
  readonly tap: HostPort | undefined;
  /** Everything the proxy logged so far. */
  logs(): string;
  metrics(): Promise<string>;
  /** Sends `signal` and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

function hostPort(text: string): HostPort {
  const colon = text.lastIndexOf(':');
  return { host: text.slice(0, colon).replace(/^\[|\]$/g, ''), port: Number(text.slice(colon + 1)) };
}

/** `command` starts the proxy: by default this checkout's bin/sluice-proxy.js under this Node. */
export async function startProxy(env: Record<string, string> = {}, command: readonly [string, ...string[]] = [process.execPath, BIN]): Promise<RunningProxy> {
  const [file, ...args] = command;
  const child = spawn(file, args, {
    env: {
      PATH: process.env['PATH'] ?? '',
      SLUICE_PROXY_INBOUND_LISTEN_ADDR: '127.0.0.1:0',
      SLUICE_PROXY_OUTBOUND_LISTEN_ADDR: '127.0.0.1:0',
      SLUICE_PROXY_ADMIN_LISTEN_ADDR: '127.0.0.1:0',
      SLUICE_PROXY_TAP_LISTEN_ADDR: '127.0.0.1:0',
      SLUICE_PROXY_WORKERS: '1',
      SLUICE_PROXY_LOG: 'info',
      // Lets a whole suite run against either HTTP/1 engine.
      ...(process.env['SLUICE_PROXY_HTTP1_ENGINE'] === undefined ? {} : { SLUICE_PROXY_HTTP1_ENGINE: process.env['SLUICE_PROXY_HTTP1_ENGINE'] }),
      ...env,
    },
    stdio: ['ignore', 'inherit', 'pipe'],
  });
  let logs = '';
  child.stderr?.setEncoding('utf8');
  const readyLine = new Promise<string>((resolve, reject) => {
    child.stderr?.on('data', (chunk: string) => {
      logs += chunk;
      const line = logs.split('\n').find((l) => l.includes('proxy ready'));
      if (line !== undefined) resolve(line);
    });
    child.once('exit', (code) => reject(new Error(`proxy exited with ${code} before it was ready:\n${logs}`)));
  });
  const timeout = setTimeout(() => child.kill('SIGKILL'), 15_000);
  const line = await readyLine.finally(() => clearTimeout(timeout));
  const field = (name: string): HostPort => {
    const match = new RegExp(`${name}=(\\S+)`).exec(line);
    if (match === null) throw new Error(`no ${name}= in ${line}`);
    return hostPort(match[1] as string);
  };
  const admin = field('admin');
  return {
    child,
    inbound: field('inbound'),
    outbound: field('outbound'),
    admin,
    tap: / tap=/.test(line) ? field('tap') : undefined,
    logs: () => logs,
    metrics: async () => (await fetch(`http://127.0.0.1:${admin.port}/metrics`)).text(),
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode !== null) return child.exitCode;
      child.kill(signal);
      const [code] = (await once(child, 'exit')) as [number | null];
      return code;
    },
  };
}

/** The sum of every series of `name` whose labels include all `want` pairs; 0 when none. */
export function metricValue(text: string, name: string, want: Readonly<Record<string, string>> = {}): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(want).every(([k, v]) => line.includes(`${k}="${v}"`))) total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}
