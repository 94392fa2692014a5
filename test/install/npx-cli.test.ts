// What a user sees running the CLI through npm on a machine whose own Node is older than 24: npm runs
// on that Node, the project's commands on the Node 24 it installed. `npx sluice …` must print the CLI's
// output and nothing else (npm once warned EBADENGINE on every call), and a Node that really is too
// old to run Sluice must get one line that names the version needed (bin/node-version-check.js).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeTooOld } from '../../bin/node-version-check.js';
import { missingTools, requirementsMet } from '../support/requirements.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** PATH as a user's shell has it: the system's directories, none of the node_modules/.bin npm adds. */
const SYSTEM_PATH = (process.env['PATH'] ?? '')
  .split(delimiter)
  .filter((dir) => dir !== '' && !dir.includes('node_modules'))
  .join(delimiter);

function runWithSystemPath(cmd: string, args: readonly string[], extraEnv: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  const env = { PATH: SYSTEM_PATH, HOME: process.env['HOME'] ?? '/root', LANG: 'C.UTF-8', ...extraEnv };
  const r = spawnSync(cmd, args, { cwd: ROOT, env, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout ?? '', stderr: `${r.stderr ?? ''}${r.error?.message ?? ''}` };
}

/** The `node` a user's shell finds first, and its version ("20.20.2"), or undefined when none. */
function systemNode(): { path: string; version: string } | undefined {
  const which = runWithSystemPath('sh', ['-c', 'command -v node']);
  const path = which.stdout.trim();
  if (which.status !== 0 || path === '') return undefined;
  const version = runWithSystemPath(path, ['-p', 'process.versions.node']);
  return version.status === 0 ? { path, version: version.stdout.trim() } : undefined;
}

describe('running the CLI through npm', () => {
  it('`npx sluice version --client` prints the version and nothing else, whatever Node npm runs on', { timeout: 60_000 }, (t) => {
    if (!requirementsMet(t, missingTools(['npx'], 'npm'))) return;
    t.diagnostic(`system node: ${JSON.stringify(systemNode())}`);
    // A fresh npm cache, as on a new machine: npx checks the package (and used to warn) only when it
    // sets up its cache entry for it, so a warm cache would hide the warnings.
    const cache = mkdtempSync(join(tmpdir(), 'sluice-npx-cache-'));
    t.after(() => rmSync(cache, { recursive: true, force: true }));
    const r = runWithSystemPath('npx', ['sluice', 'version', '--client'], { npm_config_cache: cache });
    assert.equal(r.stderr, '', 'npx must not add warnings of its own');
    assert.equal(r.stdout, `Client version: ${VERSION}\n`);
    assert.equal(r.status, 0);
  });

  it('a Node older than 24 gets one line naming the version needed, from every command', { timeout: 60_000 }, (t) => {
    const node = systemNode();
    if (node === undefined || nodeTooOld('x', node.version) === undefined) {
      // Not a missing requirement: a machine whose Node is recent has nothing to show here.
      t.skip(`the system Node (${node?.version ?? 'none'}) is not older than 24`);
      return;
    }
    for (const program of ['sluice', 'sluice-proxy', 'sluice-controller', 'sluice-init']) {
      const r = runWithSystemPath(node.path, [`bin/${program}.js`, '--help']);
      assert.equal(r.stderr, `${program} needs Node.js 24 or newer (this is ${node.version})\n`);
      assert.equal(r.stdout, '');
      assert.equal(r.status, 1);
    }
  });

  it('nodeTooOld accepts 24 and later, and names both versions otherwise', () => {
    assert.equal(nodeTooOld('sluice', '24.0.0'), undefined);
    assert.equal(nodeTooOld('sluice', '25.1.2'), undefined);
    assert.equal(nodeTooOld('sluice', '22.19.0'), 'sluice needs Node.js 24 or newer (this is 22.19.0)');
    assert.equal(nodeTooOld('sluice-proxy', '8.17.0'), 'sluice-proxy needs Node.js 24 or newer (this is 8.17.0)');
    assert.equal(nodeTooOld('sluice', 'garbage'), 'sluice needs Node.js 24 or newer (this is garbage)');
  });
});
