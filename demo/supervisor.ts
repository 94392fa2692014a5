// Child processes for the demo launcher: start them with their output prefixed by name, notice one
// that dies, and stop them all (SIGTERM, then SIGKILL for any still running after a grace period).
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface ChildSpec {
  /** Shown before every line the child writes: `web-proxy │ …`. */
  readonly name: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly cwd: string;
}

export interface Exit {
  readonly name: string;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export class Supervisor {
  private readonly children = new Map<string, ChildProcess>();
  private readonly exited = new Map<string, Exit>();
  private readonly width: number;
  private readonly write: (line: string) => void;
  private stopping = false;
  /** Called once per child that exits while the supervisor is not stopping. */
  onUnexpectedExit: (exit: Exit) => void = () => {};

  constructor(nameWidth: number, write: (line: string) => void = (line) => process.stdout.write(`${line}\n`)) {
    this.width = nameWidth;
    this.write = write;
  }

  /** Starts `node <args>` (this very Node, so Node 24 whatever PATH says). */
  start(spec: ChildSpec): ChildProcess {
    const child = spawn(process.execPath, spec.args, {
      cwd: spec.cwd,
      env: spec.env,
      // stdin stays a pipe: demo apps started with --watch-stdin exit when it closes (launcher gone).
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.children.set(spec.name, child);
    const prefix = `${spec.name.padEnd(this.width)} │ `;
    for (const stream of [child.stdout, child.stderr]) {
      if (stream === null) continue;
      createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => this.write(prefix + line));
    }
    child.on('error', (error) => this.write(`${prefix}cannot start: ${error.message}`));
    child.on('exit', (code, signal) => {
      const exit: Exit = { name: spec.name, code, signal };
      this.exited.set(spec.name, exit);
      this.children.delete(spec.name);
      if (!this.stopping) {
        // A Ctrl-C in the terminal reaches every process of the group at once; give our own signal
        // handler a moment to mark the stop as intended before calling this exit unexpected.
        setTimeout(() => {
          if (!this.stopping) this.onUnexpectedExit(exit);
        }, 250);
      }
    });
    return child;
  }

  exitOf(name: string): Exit | undefined {
    return this.exited.get(name);
  }

  running(): ReadonlyArray<{ name: string; pid: number | undefined }> {
    return [...this.children].map(([name, child]) => ({ name, pid: child.pid }));
  }

  /**
   * Stops children in groups, one group after the other (e.g. traffic first, controller last): SIGTERM,
   * then SIGKILL to whatever still runs after `graceMs`. Resolves when all have exited.
   */
  async stop(groups: ReadonlyArray<readonly string[]>, graceMs: number): Promise<void> {
    this.stopping = true;
    const named = new Set(groups.flat());
    const rest = [...this.children.keys()].filter((name) => !named.has(name));
    for (const group of [...groups, rest]) {
      await Promise.all(group.map((name) => this.stopOne(name, graceMs)));
    }
  }

  private stopOne(name: string, graceMs: number): Promise<void> {
    const child = this.children.get(name);
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      const killer = setTimeout(() => {
        this.write(`${name.padEnd(this.width)} │ still running ${graceMs} ms after SIGTERM: SIGKILL`);
        child.kill('SIGKILL');
      }, graceMs);
      child.once('exit', () => {
        clearTimeout(killer);
        resolve();
      });
      child.kill('SIGTERM');
      child.stdin?.end();
    });
  }

  /** Last resort when the launcher itself is exiting: SIGKILL whatever is left, synchronously. */
  killAll(): void {
    for (const child of this.children.values()) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  }
}
