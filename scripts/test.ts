// `npm test`: installs what the tests need from Debian, type-checks, then runs every test.
// Every test has a time limit (a regression that waits forever fails instead of holding the run); tests
// that need longer say so with `{ timeout }`. Tests that need root or a missing tool skip visibly and
// are listed with their reasons at the end; under CI=true they fail instead (test/support/requirements.ts).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function run(step: string, cmd: string, args: string[], env: Record<string, string> = {}): void {
  console.log(`\n── ${step}: ${cmd} ${args.join(' ')}`);
  const result = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
  if (result.status !== 0) {
    console.error(`\n✗ ${step} failed (exit ${result.status ?? result.signal})`);
    process.exit(result.status ?? 1);
  }
}

/** The default per-test limit: ~5× the slowest test without its own `{ timeout }` on a loaded 2-core machine. */
const TEST_TIMEOUT_MS = Number(process.env['SLUICE_TEST_TIMEOUT_MS'] ?? 60_000);
const reporters = [
  '--test-reporter=spec',
  '--test-reporter-destination=stdout',
  // Closing summary: skipped tests by reason, the slowest tests.
  `--test-reporter=${join(root, 'test', 'support', 'summary-reporter.ts')}`,
  '--test-reporter-destination=stdout',
];

const depsScript = join(root, 'scripts', 'system-deps.sh');
if (existsSync(depsScript)) run('system packages', 'bash', [depsScript, 'test']);
run('type check', 'tsc', ['--noEmit', '-p', '.']);
run('type check (dashboard page)', 'tsc', ['--noEmit', '-p', 'src/dashboard']);
// The controller serves dist/dashboard/; build it when its sources changed (fast when they did not).
run('dashboard page', process.execPath, [join(root, 'scripts', 'build-dashboard.ts'), '--if-stale']);
const patterns = process.argv.slice(2);
run('tests', process.execPath, [
  '--test',
  `--test-timeout=${TEST_TIMEOUT_MS}`,
  ...reporters,
  // Tests that use namespaces, fixed ports or load share the machine; two at a time keeps them honest.
  '--test-concurrency=2',
  ...(patterns.length > 0 ? patterns : ['src/**/*.test.ts', 'test/**/*.test.ts', 'perf/**/*.test.ts', 'scripts/**/*.test.ts', 'demo/**/*.test.ts']),
]);
if (patterns.length === 0) {
  // The HTTP/1 behaviour suites once more on the node:http engine (the fallback of the default engine).
  run(
    'HTTP/1 suites on the node engine',
    process.execPath,
    ['--test', `--test-timeout=${TEST_TIMEOUT_MS}`, ...reporters, 'src/workers/proxy/http1/http1.test.ts', 'src/workers/proxy/http1/failures.test.ts', 'src/workers/proxy/http1/http1.property.test.ts'],
    { SLUICE_PROXY_HTTP1_ENGINE: 'node' },
  );
}
