// Runs `sluice check`'s checks in order and renders the results as Linkerd prints them: a category
// header, one line per check (✔ passed, ‼ warning, × failed), under a failure its message and a hint,
// then the overall status; or as JSON (`-o json`). A failed `fatal` check stops the run (nothing after
// it can be checked: no API server, no namespace); a failed `gate` check skips the rest of its
// category (no readable issuer, so no expiry to check). Warnings never fail the run.

export type Outcome =
  | { readonly status: 'ok' }
  | { readonly status: 'warning' | 'error'; readonly message: string };

export interface CheckDef<C> {
  readonly description: string;
  /** What to do about a failure: one line. */
  readonly hint: string;
  /** A failure stops the whole run. */
  readonly fatal?: boolean;
  /** A failure skips the rest of the category. */
  readonly gate?: boolean;
  run(ctx: C): Promise<Outcome>;
}

export interface CategoryDef<C> {
  readonly name: string;
  readonly checks: readonly CheckDef<C>[];
}

export type ResultName = 'success' | 'warning' | 'error';

/** Linkerd's `-o json` shape. */
export interface CheckResultJson {
  readonly description: string;
  readonly hint?: string;
  readonly error?: string;
  readonly result: ResultName;
}

export interface CategoryResultJson {
  readonly categoryName: string;
  readonly checks: CheckResultJson[];
}

export interface CheckReport {
  readonly success: boolean;
  readonly categories: CategoryResultJson[];
}

export const ok: Outcome = { status: 'ok' };
export const warning = (message: string): Outcome => ({ status: 'warning', message });
export const failure = (message: string): Outcome => ({ status: 'error', message });

/** A check that has not answered by then has failed (an API server that accepts and never answers). */
const CHECK_TIMEOUT_MS = 15_000;

/** An error's message with its causes: fetch says only "fetch failed", its cause says ECONNREFUSED. */
export function errorText(error: unknown): string {
  const parts: string[] = [];
  for (let e = error as { message?: string; cause?: unknown } | undefined, depth = 0; e !== undefined && e !== null && depth < 4; e = e.cause as typeof e, depth++) {
    if (typeof e.message === 'string' && e.message !== '' && !parts.includes(e.message)) parts.push(e.message);
  }
  return parts.join(': ') || String(error);
}

async function runOne<C>(check: CheckDef<C>, ctx: C): Promise<Outcome> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<Outcome>((resolve) => {
    timer = setTimeout(() => resolve(failure(`no answer within ${CHECK_TIMEOUT_MS / 1000} s`)), CHECK_TIMEOUT_MS);
  });
  try {
    return await Promise.race([check.run(ctx).catch((error: unknown) => failure(errorText(error))), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export async function runChecks<C>(categories: readonly CategoryDef<C>[], ctx: C): Promise<CheckReport> {
  const results: CategoryResultJson[] = [];
  let success = true;
  for (const category of categories) {
    const checks: CheckResultJson[] = [];
    results.push({ categoryName: category.name, checks });
    for (const check of category.checks) {
      const outcome = await runOne(check, ctx);
      if (outcome.status === 'ok') {
        checks.push({ description: check.description, result: 'success' });
        continue;
      }
      checks.push({ description: check.description, hint: check.hint, error: outcome.message, result: outcome.status });
      if (outcome.status === 'warning') continue;
      success = false;
      if (check.fatal === true) return { success, categories: results };
      if (check.gate === true) break;
    }
  }
  return { success, categories: results };
}

const MARK: Readonly<Record<ResultName, string>> = { success: '✔', warning: '‼', error: '×' };

export function renderText(report: CheckReport): string {
  const lines: string[] = [];
  for (const category of report.categories) {
    lines.push(category.categoryName, '-'.repeat(category.categoryName.length));
    for (const check of category.checks) {
      lines.push(`${MARK[check.result]} ${check.description}`);
      if (check.result === 'success') continue;
      for (const line of (check.error ?? '').split('\n')) lines.push(`    ${line}`);
      lines.push(`    hint: ${check.hint}`);
    }
    lines.push('');
  }
  lines.push(`Status check results are ${report.success ? MARK.success : MARK.error}`);
  return `${lines.join('\n')}\n`;
}

export function renderJson(report: CheckReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}
