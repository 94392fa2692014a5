// Runs the real controller (`bin/sluice-controller.js`) as a child process for tests, on ports the OS
// picks unless the test names them, and reads its addresses from its `controller ready` log line.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/sluice-controller.js', import.meta.url));

export interface ControllerProcess {
  readonly child: ChildProcess;
  /** `host:port` of the proxy API (Destination, Telemetry), the public API and the admin server. */
  readonly proxyApi: string;
  readonly publicApi: string;
  readonly admin: string;
  /** `host:port` of the web dashboard; undefined with `--dashboard-addr off`. */
  readonly dashboard: string | undefined;
  logs(): string;
  stop(): Promise<void>;
}

/**
 * Starts the controller with `args` (after defaults binding every port to 127.0.0.1:0) and waits for
 * it to be ready, at most `timeoutMs`.
 */
export async function startControllerProcess(args: readonly string[], env: Record<string, string> = {}, timeoutMs = 20_000): Promise<ControllerProcess> {
  const defaults = ['--proxy-api-addr', '127.0.0.1:0', '--public-api-addr', '127.0.0.1:0', '--admin-addr', '127.0.0.1:0', '--dashboard-addr', '127.0.0.1:0'];
  const child = spawn(process.execPath, [BIN, ...defaults, ...args], {
    env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '/nonexistent', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let logs = '';
  child.stderr?.setEncoding('utf8');
  const readyLine = new Promise<string>((resolve, reject) => {
    child.stderr?.on('data', (chunk: string) => {
      logs += chunk;
      const line = logs.split('\n').find((l) => l.includes('controller ready'));
      if (line !== undefined) resolve(line);
    });
    child.once('exit', (code) => reject(new Error(`controller exited with ${code} before it was ready:\n${logs}`)));
  });
  const timeout = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const line = await readyLine.finally(() => clearTimeout(timeout));
  const field = (name: string): string => {
    const match = new RegExp(`${name}=(\\S+)`).exec(line);
    if (match === null) throw new Error(`no ${name}= in ${line}`);
    return match[1] as string;
  };
  return {
    child,
    proxyApi: field('proxy-api'),
    publicApi: field('public-api'),
    admin: field('admin'),
    dashboard: /dashboard=(\S+)/.exec(line)?.[1],
    logs: () => logs,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
