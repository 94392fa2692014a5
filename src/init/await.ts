// sluice-await: blocks until the proxy answers 200 on its admin `/ready`, or a timeout passes. The
// injected proxy container runs it as its postStart hook: the kubelet starts the pod's next container
// (the app) only when the hook returns, so no application request leaves before the mesh is up
// (Linkerd's `linkerd-await`). Exit status: 0 ready, 1 timed out, 2 bad command line.
import http from 'node:http';
import { parseArgs } from 'node:util';
import { parseDuration } from '../config/parse.ts';

export const AWAIT_USAGE = `Usage: sluice-await [--url http://127.0.0.1:4191/ready] [--timeout 2m] [--interval 200ms]

Waits until the URL answers 200, then exits 0; exits 1 if it does not within the timeout.`;

export interface AwaitOptions {
  readonly url: URL;
  readonly timeoutMs: number;
  readonly intervalMs: number;
}

export function parseAwaitArgs(argv: readonly string[]): AwaitOptions | 'help' {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: {
      url: { type: 'string', default: 'http://127.0.0.1:4191/ready' },
      timeout: { type: 'string', default: '2m' },
      interval: { type: 'string', default: '200ms' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return 'help';
  let url: URL;
  try {
    url = new URL(values.url);
  } catch {
    throw new Error(`--url: ${JSON.stringify(values.url)} is not a URL`);
  }
  if (url.protocol !== 'http:') throw new Error(`--url: only http:// is supported, got ${url.protocol}`);
  const timeoutMs = parseDuration('--timeout', values.timeout);
  const intervalMs = parseDuration('--interval', values.interval);
  if (timeoutMs <= 0 || intervalMs <= 0) throw new Error('--timeout and --interval must be more than 0');
  return { url, timeoutMs, intervalMs };
}

/** One GET; resolves to the status, or undefined when nothing answered (not listening yet). */
function probe(url: URL, timeoutMs: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: timeoutMs, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
  });
}

/** Polls until 200; true when ready, false when the timeout passed first. */
export async function awaitReady(options: AwaitOptions, log: (line: string) => void = () => {}): Promise<boolean> {
  const deadline = Date.now() + options.timeoutMs;
  let last: number | undefined;
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) break;
    last = await probe(options.url, Math.min(left, 1000));
    if (last === 200) return true;
    const wait = Math.min(options.intervalMs, deadline - Date.now());
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  }
  log(`sluice-await: ${options.url.href} not ready after ${options.timeoutMs} ms (last answer: ${last ?? 'none'})`);
  return false;
}

export async function main(argv: readonly string[]): Promise<number> {
  let options: AwaitOptions | 'help';
  try {
    options = parseAwaitArgs(argv);
  } catch (error) {
    process.stderr.write(`sluice-await: ${(error as Error).message}\n${AWAIT_USAGE}\n`);
    return 2;
  }
  if (options === 'help') {
    process.stdout.write(`${AWAIT_USAGE}\n`);
    return 0;
  }
  return (await awaitReady(options, (line) => process.stderr.write(`${line}\n`))) ? 0 : 1;
}
