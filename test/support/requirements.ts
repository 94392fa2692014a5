// What a test needs from the machine (root, a program), checked in one place. Locally a test whose
// needs are not met skips with the reason, and scripts/test.ts lists every skip and its reason at the
// end. Under CI (`CI=true`) the same test fails instead: a green CI run means the network-namespace,
// iptables, TLS and Go-conformance tests really ran.
import { spawnSync } from 'node:child_process';
import type { TestContext } from 'node:test';

/** CI runs must not skip: `CI` set to anything but "" / "0" / "false", as CI services set it. */
export function underCi(env: NodeJS.ProcessEnv = process.env): boolean {
  const value = (env['CI'] ?? '').trim().toLowerCase();
  return value !== '' && value !== '0' && value !== 'false';
}

/** Why the test cannot run without root, or undefined when running as root. */
export function missingRoot(forWhat: string): string | undefined {
  return process.getuid?.() === 0 ? undefined : `needs root (${forWhat})`;
}

/** A program and the arguments that make it exit 0 when it works (`--version` by default). */
export type Tool = string | readonly [cmd: string, args: readonly string[]];

/** Whether `cmd args` can be started and exits 0 within 10 s. */
export function works(cmd: string, args: readonly string[] = ['--version']): boolean {
  const r = spawnSync(cmd, args, { stdio: 'ignore', timeout: 10_000 });
  return r.error === undefined && r.status === 0;
}

/** Why the test cannot run for lack of these programs, or undefined when all of them work. */
export function missingTools(tools: readonly Tool[], hint = 'run: bash scripts/system-deps.sh test'): string | undefined {
  const missing = tools
    .map((tool) => (typeof tool === 'string' ? ([tool, ['--version']] as const) : tool))
    .filter(([cmd, args]) => !works(cmd, args))
    .map(([cmd]) => cmd);
  return missing.length === 0 ? undefined : `needs ${missing.join(', ')} (${hint})`;
}

/** The reasons that are set, joined; undefined when none is. */
export function missingAny(...reasons: Array<string | undefined>): string | undefined {
  const set = reasons.filter((r): r is string => r !== undefined);
  return set.length === 0 ? undefined : set.join('; ');
}

/** Thrown under CI in place of a skip. */
export class RequirementMissing extends Error {
  override name = 'RequirementMissing';
}

/**
 * Whether the test may go on. With `missing` set, skips `t` with that reason and returns false — or,
 * under CI, throws so that the test fails. Use: `if (!requirementsMet(t, MISSING)) return;`.
 */
export function requirementsMet(t: Pick<TestContext, 'skip'>, missing: string | undefined, ci = underCi()): boolean {
  if (missing === undefined) return true;
  if (ci) throw new RequirementMissing(`CI=true, so this test must run, but it ${missing}`);
  t.skip(missing);
  return false;
}
