// Runs a container image built by scripts/build-images.sh without a container engine: buildah makes a
// working container from the image and mounts its root filesystem, `runc spec` writes a default OCI
// config that is then given the image's entrypoint, user and environment, and runc runs it. Whatever
// a bundle creates (the buildah container, the runc container) goes again in `remove()`.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BUILDAH = ['buildah', '--storage-driver', 'vfs'] as const;

function must(cmd: string, args: readonly string[], timeoutMs = 120_000): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: timeoutMs });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} → ${r.status ?? r.signal ?? r.error?.message}\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** The parts of an OCI image configuration a container starts from. */
export interface ImageConfig {
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Env?: string[] | null;
  User?: string;
  WorkingDir?: string;
}

export function imageConfig(image: string): ImageConfig {
  // buildah 1.28's --format has no `json` function: read its whole JSON answer instead.
  const inspected = JSON.parse(must(BUILDAH[0], [...BUILDAH.slice(1), 'inspect', '--type', 'image', image])) as { OCIv1: { config?: ImageConfig } };
  return inspected.OCIv1.config ?? {};
}

/** `uid[:gid]` of an image's USER, numeric as the Dockerfiles write it. */
export function numericUser(user: string | undefined): { uid: number; gid: number } {
  const match = /^(\d+)(?::(\d+))?$/.exec(user ?? '');
  if (match === null) throw new Error(`image USER ${JSON.stringify(user)} is not numeric uid[:gid]`);
  return { uid: Number(match[1]), gid: Number(match[2] ?? match[1]) };
}

export interface RunOptions {
  /** Replaces the image's ENTRYPOINT. */
  entrypoint?: readonly string[];
  /** Replaces the image's CMD (arguments after the entrypoint). */
  args?: readonly string[];
  /** Added to the image's environment. */
  env?: Readonly<Record<string, string>>;
  /** A network namespace (`ip netns add`) to join; a fresh, empty one when omitted. */
  netns?: string;
}

export interface Container {
  readonly id: string;
  readonly child: ChildProcess;
  /** What the container wrote to stdout and stderr so far. */
  output(): string;
  /** Sends `signal` through runc and resolves with the container's exit code. */
  stop(signal: string, timeoutMs: number): Promise<number | null>;
}

export class Bundle {
  readonly dir: string;
  readonly #working: string;
  readonly #rootfs: string;
  readonly #config: ImageConfig;
  #containers: string[] = [];

  /** A working container of `image` (a copy of its layers) with its root filesystem mounted. */
  constructor(image: string, name: string) {
    this.#config = imageConfig(image);
    this.#working = must(BUILDAH[0], [...BUILDAH.slice(1), 'from', '--name', name, image]).trim();
    this.#rootfs = must(BUILDAH[0], [...BUILDAH.slice(1), 'mount', this.#working]).trim();
    this.dir = mkdtempSync(join(tmpdir(), 'sluice-bundle-'));
  }

  /**
   * Writes config.json for one run: the image's entrypoint as the Kubernetes pod would start it, under
   * the image's user, with a read-only root filesystem (the injected proxy has one).
   */
  #writeConfig(options: RunOptions): void {
    const path = join(this.dir, 'config.json');
    rmSync(path, { force: true }); // runc spec refuses to overwrite the previous run's
    must('runc', ['spec', '--bundle', this.dir]);
    const spec = JSON.parse(readFileSync(path, 'utf8')) as {
      process: Record<string, unknown>;
      root: Record<string, unknown>;
      hostname?: string;
      linux: { namespaces: Array<{ type: string; path?: string }> };
    };
    const args = [...(options.entrypoint ?? this.#config.Entrypoint ?? []), ...(options.args ?? this.#config.Cmd ?? [])];
    const env = [...(this.#config.Env ?? []), ...Object.entries(options.env ?? {}).map(([k, v]) => `${k}=${v}`)];
    spec.process = { ...spec.process, terminal: false, args, env, cwd: this.#config.WorkingDir || '/', user: numericUser(this.#config.User) };
    spec.root = { path: this.#rootfs, readonly: true };
    spec.hostname = 'sluice-test';
    if (options.netns !== undefined) {
      spec.linux.namespaces = spec.linux.namespaces.map((ns) => (ns.type === 'network' ? { type: 'network', path: `/var/run/netns/${options.netns}` } : ns));
    }
    writeFileSync(path, JSON.stringify(spec, null, 2));
  }

  /** Starts the container in the foreground (`runc run`); its output is collected, not shown. */
  start(id: string, options: RunOptions = {}): Container {
    this.#writeConfig(options);
    this.#containers.push(id);
    const child = spawn('runc', ['run', '--bundle', this.dir, id], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
    const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    return {
      id,
      child,
      output: () => output,
      stop: async (signal, timeoutMs) => {
        if (child.exitCode === null) spawnSync('runc', ['kill', id, signal], { timeout: 10_000 });
        const timer = setTimeout(() => spawnSync('runc', ['kill', id, 'KILL'], { timeout: 10_000 }), timeoutMs);
        const [code] = await exited.finally(() => clearTimeout(timer));
        return code;
      },
    };
  }

  /** Runs the container to completion and returns its exit code and output. */
  async run(id: string, options: RunOptions, timeoutMs: number): Promise<{ code: number | null; output: string }> {
    const container = this.start(id, options);
    const timer = setTimeout(() => spawnSync('runc', ['kill', id, 'KILL'], { timeout: 10_000 }), timeoutMs);
    const [code] = (await once(container.child, 'exit').finally(() => clearTimeout(timer))) as [number | null];
    return { code, output: container.output() };
  }

  /** Deletes the runc containers (`runc run` deletes them on exit; this covers a failed start) and the buildah container. */
  remove(): void {
    for (const id of this.#containers) spawnSync('runc', ['delete', '--force', id], { stdio: 'ignore', timeout: 10_000 });
    spawnSync(BUILDAH[0], [...BUILDAH.slice(1), 'umount', this.#working], { stdio: 'ignore', timeout: 60_000 });
    spawnSync(BUILDAH[0], [...BUILDAH.slice(1), 'rm', this.#working], { stdio: 'ignore', timeout: 60_000 });
    rmSync(this.dir, { recursive: true, force: true });
  }
}
