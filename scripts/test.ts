// `npm test`: installs what the tests need from Debian, type-checks, then runs every test.
// Tests that need root or a missing tool skip visibly; on CI machines (root, apt reachable) they all run.
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

const depsScript = join(root, 'scripts', 'system-deps.sh');
if (existsSync(depsScript)) run('system packages', 'bash', [depsScript, 'test']);
run('type check', 'tsc', ['--noEmit', '-p', '.']);
const patterns = process.argv.slice(2);
run('tests', process.execPath, [
  '--test',
  '--test-reporter=spec',
  // Tests that use namespaces, fixed ports or load share the machine; two at a time keeps them honest.
  '--test-concurrency=2',
  ...(patterns.length > 0 ? patterns : ['src/**/*.test.ts', 'test/**/*.test.ts', 'perf/**/*.test.ts', 'scripts/**/*.test.ts', 'demo/**/*.test.ts']),
]);
if (patterns.length === 0) {
  // The HTTP/1 behaviour suites once more on the node:http engine (the fallback of the default engine).
  run(
    'HTTP/1 suites on the node engine',
    process.execPath,
    ['--test', '--test-reporter=spec', 'src/workers/proxy/http1/http1.test.ts', 'src/workers/proxy/http1/failures.test.ts', 'src/workers/proxy/http1/http1.property.test.ts'],
    { SLUICE_PROXY_HTTP1_ENGINE: 'node' },
  );
}
