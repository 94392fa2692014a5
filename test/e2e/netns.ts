// Helpers for end-to-end tests in network namespaces: run commands (optionally inside a namespace and
// as another uid), start and stop long-running processes that this test owns, wait for things, talk to
// a pod's proxy, and read Prometheus text. Everything started here is tracked (`Owned`) and stopped by
// its own process group id.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { SharedCheckout } from './shared-checkout.ts';

export const NODE = process.execPath;

/** A minimal environment: nothing from the caller leaks in (no proxies, no NODE_OPTIONS). */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: `${dirname(NODE)}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
    LANG: 'C.UTF-8',
    HOME: '/tmp',
    ...extra,
  };
}

export interface Where {
  /** Network namespace to run in (`ip netns exec`); the caller's namespace when omitted. */
  ns?: string | undefined;
  /** Run as this uid (and gid of the same number), with no supplementary groups (`setpriv`). */
  uid?: number | undefined;
  /** Mount the checkout where that uid can reach it (paths in `cmd args` must be `shared`'s). */
  shared?: SharedCheckout | undefined;
}

/** The argv that runs `cmd args` in `where`: `[unshare … mount …] ip netns exec <ns> setpriv ... cmd args`. */
export function wrap(where: Where, cmd: string, args: readonly string[]): string[] {
  const argv = [cmd, ...args];
  if (where.uid !== undefined) {
    argv.unshift('setpriv', `--reuid=${where.uid}`, `--regid=${where.uid}`, '--clear-groups');
  }
  if (where.ns !== undefined) argv.unshift('ip', 'netns', 'exec', where.ns);
  // Outermost: `ip netns exec` copies the mount namespace it starts in, bind mounts included.
  if (where.shared !== undefined) argv.unshift(...where.shared.prefix());
  return argv;
}

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
  /** The command line, for messages. */
  command: string;
}

/** Runs a short command to completion (synchronously). */
export function run(where: Where, cmd: string, args: readonly string[], timeoutMs = 30_000): RunResult {
  const [bin, ...rest] = wrap(where, cmd, args);
  const r = spawnSync(bin ?? cmd, rest, { encoding: 'utf8', timeout: timeoutMs, env: cleanEnv() });
  const stderr = r.error === undefined ? r.stderr : `${r.stderr ?? ''}${r.error.message}`;
  return { status: r.status, stdout: r.stdout ?? '', stderr, command: [bin, ...rest].join(' ') };
}

/** Runs a command and throws with its output unless it exits 0. */
export function must(where: Where, cmd: string, args: readonly string[], timeoutMs?: number): string {
  const r = run(where, cmd, args, timeoutMs);
  if (r.status !== 0) throw new Error(`${r.command} → exit ${r.status}\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** Runs a command asynchronously (for clients that talk to processes we also drive). */
export function runAsync(where: Where, cmd: string, args: readonly string[], opts: { timeoutMs?: number; input?: string } = {}): Promise<RunResult> {
  const argv = wrap(where, cmd, args);
  const command = argv.join(' ');
  return new Promise((resolve) => {
    const child = spawn(argv[0] ?? cmd, argv.slice(1), { env: cleanEnv(), stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      stderr += `\n[killed after ${opts.timeoutMs ?? 20_000} ms]`;
      killGroup(child);
    }, opts.timeoutMs ?? 20_000);
    child.on('error', (error) => {
      clearTimeout(timer);
      resolve({ status: null, stdout, stderr: `${stderr}${error.message}`, command });
    });
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr, command });
    });
    // A command that exits before reading its input (curl failing fast) must not crash the test: EPIPE.
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
  });
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    // The child leads its own process group (detached), so this reaches exactly what we started.
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}

/** A long-running process this test started; output is kept (the last 64 KiB) for diagnostics. */
export class Proc {
  readonly label: string;
  readonly child: ChildProcess;
  readonly command: string;
  private output = '';
  private readonly exited: Promise<void>;

  constructor(label: string, where: Where, cmd: string, args: readonly string[], env: Record<string, string> = {}) {
    this.label = label;
    const argv = wrap(where, cmd, args);
    this.command = argv.join(' ');
    // `unshare`, `sh -c 'exec'`, `ip netns exec` and `setpriv` exec the command: the pid is the program's own.
    this.child = spawn(argv[0] ?? cmd, argv.slice(1), { env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const keep = (d: string): void => {
      this.output = (this.output + d).slice(-65536);
    };
    this.child.stdout?.setEncoding('utf8').on('data', keep);
    this.child.stderr?.setEncoding('utf8').on('data', keep);
    this.exited = new Promise((resolve) => {
      this.child.on('error', (error) => {
        keep(`\n[spawn error: ${error.message}]`);
        resolve();
      });
      this.child.on('exit', (code, signal) => {
        keep(`\n[exited: ${signal ?? code}]`);
        resolve();
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null && this.child.pid !== undefined;
  }

  get log(): string {
    return this.output;
  }

  /** Waits until the output matches `pattern`; rejects if the process exits first or time runs out. */
  async waitForOutput(pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = pattern.exec(this.output);
      if (m !== null) return m;
      if (!this.running) throw new Error(`${this.label} exited before printing ${pattern}:\n${this.describe()}`);
      if (Date.now() > deadline) throw new Error(`${this.label} did not print ${pattern} within ${timeoutMs} ms:\n${this.describe()}`);
      await sleep(25);
    }
  }

  describe(): string {
    return `── ${this.label} (pid ${this.pid ?? '?'}): ${this.command}\n${this.output.trimEnd() || '(no output)'}`;
  }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 3000): Promise<void> {
    if (!this.running) return;
    killGroup(this.child, 'SIGTERM');
    const timer = setTimeout(() => killGroup(this.child, 'SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

/**
 * Everything a suite started or made: processes, namespaces, and other things to undo (temporary
 * directories). `release()` (from `after`) stops the processes, newest first, then undoes the rest;
 * should the runner exit without it, a synchronous backstop kills the processes and deletes the
 * namespaces.
 */
export class Owned {
  private readonly procs: Proc[] = [];
  private readonly namespaces: string[] = [];
  private readonly undo: Array<() => void> = [];
  private backstop: (() => void) | undefined;

  /** Tracks a process; returns it. */
  proc(p: Proc): Proc {
    this.procs.push(p);
    this.armBackstop();
    return p;
  }

  /** Creates a namespace (loopback up) and tracks it, from the moment it exists. */
  netns(name: string): void {
    addNetns(name, () => {
      this.namespaces.push(name);
      this.armBackstop();
    });
  }

  /** Runs `fn` in `release()`, after the processes have stopped. */
  onRelease(fn: () => void): void {
    this.undo.push(fn);
  }

  /** The recent output of every process, for failure messages. */
  logs(): string {
    return this.procs.map((p) => p.describe().slice(-4000)).join('\n');
  }

  /** Stops, removes and undoes everything; returns what could not be cleaned up. */
  async release(): Promise<string[]> {
    for (const p of [...this.procs].reverse()) await p.stop();
    const errors: string[] = [];
    for (const fn of this.undo.splice(0).reverse()) {
      try {
        fn();
      } catch (error) {
        errors.push(error instanceof Error ? error.message : String(error));
      }
    }
    for (const ns of this.namespaces.splice(0)) {
      const error = delNetns(ns);
      if (error !== undefined) errors.push(error);
    }
    if (this.backstop !== undefined) process.off('exit', this.backstop);
    this.backstop = undefined;
    return errors;
  }

  private armBackstop(): void {
    if (this.backstop !== undefined) return;
    this.backstop = () => {
      for (const p of this.procs) {
        if (!p.running || p.pid === undefined) continue;
        try {
          process.kill(-p.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      for (const ns of this.namespaces) delNetns(ns);
    };
    process.once('exit', this.backstop);
  }
}

/** Thrown by a `waitFor` check to stop waiting at once (e.g. the process being waited on exited). */
export class GiveUp extends Error {}

/** Polls `check` until it returns a value (not undefined) or time runs out. */
export async function waitFor<T>(what: string, timeoutMs: number, check: () => T | undefined | Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      if (error instanceof GiveUp) throw error;
      lastError = error;
    }
    if (Date.now() > deadline) {
      const detail = lastError instanceof Error ? `: ${lastError.message}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail}`);
    }
    await sleep(100);
  }
}

// ── pods ───────────────────────────────────────────────────────────────────────────────────────

/** `uid` must be able to run Node and read `files` (paths in the checkout), through the shared checkout. */
export function checkAccess(shared: SharedCheckout, uid: number, files: readonly string[]): void {
  const seen = files.map((f) => shared.path(f));
  const script = `const fs=require('fs');for(const f of ${JSON.stringify(seen)})fs.accessSync(f,fs.constants.R_OK)`;
  const r = run({ uid, shared }, shared.node, ['-e', script]);
  if (r.status !== 0) {
    throw new Error(
      `uid ${uid} cannot run ${NODE} or read ${files.join(', ')} (seen as ${shared.root}): ${r.stderr.trim()}\n` +
        'The checkout is bind-mounted where every user can reach it, but its files must be world-readable ' +
        '(a checkout made with umask 077 is not).',
    );
  }
}

/** GET on a proxy's admin server (`http://127.0.0.1:4191` in a pod), from inside namespace `ns`. */
export async function adminGet(ns: string, path: string, admin = 'http://127.0.0.1:4191'): Promise<{ code: string; body: string }> {
  const r = await runAsync({ ns }, 'curl', ['-sS', '--max-time', '3', '-w', '\n%{http_code}', `${admin}${path}`], { timeoutMs: 5000 });
  const i = r.stdout.lastIndexOf('\n');
  return { code: r.stdout.slice(i + 1), body: r.stdout.slice(0, Math.max(0, i)) };
}

/** A client's JSON output, or an error that shows what it printed instead. */
export function parseJson(text: string, what: string): Record<string, unknown> {
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new Error(`${what}: not JSON: ${JSON.stringify(text.slice(0, 500))}`);
  }
}

// ── namespaces ──────────────────────────────────────────────────────────────────────────────────

/** Creates a namespace with loopback up; `created` runs as soon as it exists (so cleanup can find it). */
export function addNetns(name: string, created: () => void = () => {}): void {
  must({}, 'ip', ['netns', 'add', name]);
  created();
  must({ ns: name }, 'ip', ['link', 'set', 'lo', 'up']);
}

/** Deletes a namespace; returns an error text instead of throwing (for cleanup). */
export function delNetns(name: string): string | undefined {
  const r = run({}, 'ip', ['netns', 'del', name]);
  return r.status === 0 ? undefined : `${r.command}: ${r.stderr.trim()}`;
}

/**
 * Joins two namespaces with a veth pair created inside the first (so no interface ever appears in
 * the caller's namespace) and gives each end an address in `prefixLen`.
 */
export function linkNetns(a: { ns: string; ip: string }, b: { ns: string; ip: string }, prefixLen: number, ifname = 'veth0'): void {
  must({ ns: a.ns }, 'ip', ['link', 'add', ifname, 'type', 'veth', 'peer', 'name', ifname, 'netns', b.ns]);
  for (const end of [a, b]) {
    must({ ns: end.ns }, 'ip', ['addr', 'add', `${end.ip}/${prefixLen}`, 'dev', ifname]);
    must({ ns: end.ns }, 'ip', ['link', 'set', ifname, 'up']);
  }
}

// ── Prometheus text ─────────────────────────────────────────────────────────────────────────────

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses Prometheus text exposition (comments skipped; label values unescaped). */
export function parsePrometheus(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (m === null) continue;
    const labels: Record<string, string> = {};
    const body = m[3] ?? '';
    const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?\s*/g;
    for (let l = re.exec(body); l !== null; l = re.exec(body)) {
      labels[l[1] ?? ''] = (l[2] ?? '').replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    }
    samples.push({ name: m[1] ?? '', labels, value: Number(m[4]) });
  }
  return samples;
}

/** Samples as Prometheus text lines (`name{a="b",…} value`), for messages. */
export function formatSamples(samples: readonly Sample[]): string[] {
  return samples.map((s) => `${s.name}{${Object.entries(s.labels).map(([k, v]) => `${k}="${v}"`).join(',')}} ${s.value}`);
}

/** Samples called `name` whose labels include every pair in `labels`. */
export function findSamples(samples: readonly Sample[], name: string, labels: Record<string, string>): Sample[] {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}
