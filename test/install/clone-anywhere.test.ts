// The README promises that `npm ci && npm test` pass on a fresh machine, from any directory. A home
// directory is usually 0700 (root's included), which once broke every test that runs a program as
// another uid. This test clones the committed HEAD into a fresh 0700 directory, runs the README's
// two commands there — `npm test` limited to the tests that run programs as other uids, since the rest
// of the suite does not care where it lives and runs here anyway — and requires them to pass with
// nothing skipped (CI=true turns a skip into a failure).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { missingAny, missingRoot, missingTools, requirementsMet } from '../support/requirements.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Every test that runs a program as another uid (setpriv): they must pass from a private directory. */
const USER_SWITCHING_TESTS = ['test/e2e/transparent.test.ts'];

const MISSING = missingAny(
  missingRoot('the tests it runs in the clone use network namespaces and other uids'),
  missingTools(['git', 'npm'], 'git and npm'),
  existsSync(join(ROOT, '.git')) ? undefined : 'needs a git checkout to clone (this copy has no .git)',
);

interface Outcome {
  status: number | null;
  output: string;
}

/** The environment of a new user's shell: no npm_* variables and no node_modules/.bin of ours on PATH. */
function freshShellEnv(): Record<string, string> {
  const path = (process.env['PATH'] ?? '')
    .split(delimiter)
    .filter((dir) => dir !== '' && !dir.includes('node_modules'))
    .join(delimiter);
  return { PATH: path, HOME: process.env['HOME'] ?? '/root', LANG: 'C.UTF-8', CI: 'true' };
}

/** Runs a command to completion, keeping its output (the last 200 KiB) for the failure message. */
function runIn(cwd: string, cmd: string, args: readonly string[], timeoutMs: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd, env: freshShellEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (chunk: Buffer): void => {
      output = (output + chunk.toString('utf8')).slice(-200_000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const timer = setTimeout(() => {
      output += `\n[killed after ${timeoutMs} ms]`;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      resolve({ status: null, output: `${output}\n${error.message}` });
    });
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, output });
    });
  });
}

/** The runner's closing counts ("ℹ pass 9"), by name. */
function counts(output: string): Record<string, number> {
  const found: Record<string, number> = {};
  for (const m of output.matchAll(/^ℹ (tests|pass|fail|cancelled|skipped|todo) (\d+)$/gm)) found[m[1] as string] = Number(m[2]);
  return found;
}

describe('a clone in a private (0700) directory', () => {
  it('passes `npm ci` and the tests that run programs as other uids', { timeout: 900_000 }, async (t) => {
    if (!requirementsMet(t, MISSING)) return;
    const home = mkdtempSync(join(tmpdir(), 'sluice-clone-'));
    t.after(() => rmSync(home, { recursive: true, force: true }));
    assert.equal(statSync(home).mode & 0o777, 0o700, 'the directory must be private, like a home directory');
    const checkout = join(home, 'sluice');

    const clone = await runIn(home, 'git', ['clone', '--quiet', ROOT, checkout], 120_000);
    assert.equal(clone.status, 0, `git clone: ${clone.output}`);

    // The npm cache already holds every package (this checkout was installed): no download needed.
    const install = await runIn(checkout, 'npm', ['ci', '--prefer-offline', '--no-audit', '--no-fund'], 600_000);
    assert.equal(install.status, 0, `npm ci: ${install.output}`);

    const test = await runIn(checkout, 'npm', ['test', '--', ...USER_SWITCHING_TESTS], 600_000);
    const seen = counts(test.output);
    t.diagnostic(`in ${checkout}: ${JSON.stringify(seen)}`);
    assert.equal(test.status, 0, `npm test in the clone failed:\n${test.output.slice(-20_000)}`);
    assert.ok((seen['pass'] ?? 0) > 0, `no test passed in the clone:\n${test.output.slice(-5000)}`);
    assert.deepEqual({ fail: seen['fail'], cancelled: seen['cancelled'], skipped: seen['skipped'] }, { fail: 0, cancelled: 0, skipped: 0 });
  });
});
