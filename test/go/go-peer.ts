// Builds a Go gRPC peer from the project's own proto/*.proto for the conformance tests: protoc with
// Debian's protoc-gen-go 1.3 (plugins=grpc) generates the Go packages, `go build` (GOPATH mode, Debian's
// grpc-go sources) compiles one main.go against them. `goSkipReason` says why that is impossible here
// (tools missing, no root to install them), so tests can skip saying so.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PROTO_DIR = path.join(ROOT, 'proto');
const GO_SYSTEM_PATH = '/usr/share/gocode';
/** protoc-gen-go 1.3 needs the well-known types mapped to the packages it ships with. */
const WELL_KNOWN = [
  'Mgoogle/protobuf/duration.proto=github.com/golang/protobuf/ptypes/duration',
  'Mgoogle/protobuf/timestamp.proto=github.com/golang/protobuf/ptypes/timestamp',
].join(',');

export function run(cmd: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): string {
  const result = spawnSync(cmd, args, { encoding: 'utf8', ...options });
  if (result.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed (${result.status ?? result.signal}):\n${result.stderr}${result.stdout}`);
  }
  return result.stdout;
}

const has = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;

/** Installs the Go toolchain if it can (scripts/system-deps.sh go); undefined when a peer can be built. */
export function goSkipReason(): string | undefined {
  const deps = spawnSync('bash', [path.join(ROOT, 'scripts/system-deps.sh'), 'go'], { encoding: 'utf8' });
  const missing = ['go', 'protoc', 'protoc-gen-go'].filter((cmd) => !has(cmd));
  if (!existsSync(path.join(GO_SYSTEM_PATH, 'src/google.golang.org/grpc'))) missing.push('grpc-go sources');
  if (missing.length === 0) return undefined;
  const warning = (deps.stderr ?? '').trim().split('\n')[0] || 'run: bash scripts/system-deps.sh go (as root)';
  return `Go peer not available (missing ${missing.join(', ')}): ${warning}`;
}

/** The files `root` imports (transitively), by the `import "x.proto"` lines; google/* come with protoc. */
function protoClosure(root: string): string[] {
  const seen = new Set<string>();
  const visit = (file: string): void => {
    if (seen.has(file) || file.startsWith('google/')) return;
    seen.add(file);
    const text = readFileSync(path.join(PROTO_DIR, file), 'utf8');
    for (const match of text.matchAll(/^\s*import\s+(?:public\s+|weak\s+)?"([^"]+)";/gm)) visit(match[1] as string);
  };
  visit(root);
  return [...seen];
}

function goPackageOf(file: string): string {
  const match = /option\s+go_package\s*=\s*"([^"]+)"/.exec(readFileSync(path.join(PROTO_DIR, file), 'utf8'));
  if (match === null) throw new Error(`${file} has no go_package option`);
  return (match[1] as string).split(';')[0] as string;
}

/**
 * Generates Go code for `rootProto` and what it imports into `work`, builds `source` (a main.go)
 * against it, and returns the binary's path. The Go build cache is kept in
 * $TMPDIR/sluice-go-build-cache so that reruns build in seconds.
 */
export function buildGoPeer(rootProto: string, source: string, work: string, name: string): string {
  const gopath = path.join(work, 'gopath');
  const out = path.join(gopath, 'src');
  mkdirSync(out, { recursive: true });
  // One protoc call per Go package (protoc-gen-go 1.3 refuses mixed packages in one call).
  const byPackage = new Map<string, string[]>();
  for (const file of protoClosure(rootProto)) {
    const pkg = goPackageOf(file);
    byPackage.set(pkg, [...(byPackage.get(pkg) ?? []), file]);
  }
  for (const files of byPackage.values()) {
    run('protoc', ['-I', PROTO_DIR, `--go_out=plugins=grpc,${WELL_KNOWN}:${out}`, ...files]);
  }
  const clientDir = path.join(out, 'sluice.dev', name);
  mkdirSync(clientDir, { recursive: true });
  copyFileSync(source, path.join(clientDir, 'main.go'));
  const binary = path.join(work, name);
  run('go', ['build', '-o', binary, '.'], {
    cwd: clientDir,
    env: {
      ...process.env,
      GO111MODULE: 'off',
      GOPATH: `${gopath}:${GO_SYSTEM_PATH}`,
      GOCACHE: path.join(tmpdir(), 'sluice-go-build-cache'),
      GOFLAGS: '',
    },
  });
  return binary;
}
