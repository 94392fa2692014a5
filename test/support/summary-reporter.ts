// A node:test reporter that scripts/test.ts runs beside `spec`: it prints nothing while the tests run,
// then a closing summary — every skipped test grouped by its reason (a skip must never go unseen in a
// long log) and the slowest tests (to see which ones need a timeout above the default).
import { relative } from 'node:path';

/** The fields of a test:pass / test:fail event this reporter reads. */
interface TestEventData {
  name: string;
  nesting: number;
  file?: string;
  skip?: string | boolean;
  todo?: string | boolean;
  details?: { duration_ms?: number; type?: 'suite' | 'test' };
}

interface Event {
  type: string;
  data?: unknown;
}

const SLOWEST = 8;

interface Entry {
  where: string;
  name: string;
  ms: number;
}

function whereOf(data: TestEventData): string {
  return data.file === undefined ? '' : relative(process.cwd(), data.file);
}

/** The summary text for the events seen (pure: tested without running a suite). */
export function summarize(events: readonly Event[]): string {
  const skipped = new Map<string, Entry[]>();
  const durations: Entry[] = [];
  let passed = 0;
  let failed = 0;
  for (const event of events) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    const data = event.data as TestEventData;
    const entry = { where: whereOf(data), name: data.name, ms: data.details?.duration_ms ?? 0 };
    if (data.skip !== undefined && data.skip !== false) {
      const reason = typeof data.skip === 'string' && data.skip !== '' ? data.skip : '(no reason given)';
      skipped.set(reason, [...(skipped.get(reason) ?? []), entry]);
      continue;
    }
    if (data.details?.type === 'suite') continue;
    if (event.type === 'test:pass') passed++;
    else failed++;
    durations.push(entry);
  }
  const skipCount = [...skipped.values()].reduce((n, list) => n + list.length, 0);
  const lines = ['', `── summary: ${passed} passed, ${failed} failed, ${skipCount} skipped`];
  if (skipCount > 0) {
    lines.push('', `skipped (${skipCount}), by reason:`);
    for (const [reason, entries] of skipped) {
      lines.push(`  ${entries.length} × ${reason}`);
      for (const e of entries.slice(0, 5)) lines.push(`      ${e.where}${e.where === '' ? '' : ' › '}${e.name}`);
      if (entries.length > 5) lines.push(`      … and ${entries.length - 5} more`);
    }
  }
  const slowest = durations.sort((a, b) => b.ms - a.ms).slice(0, SLOWEST);
  if (slowest.length > 0) {
    lines.push('', 'slowest tests:');
    for (const e of slowest) lines.push(`  ${(e.ms / 1000).toFixed(1).padStart(6)} s  ${e.where} › ${e.name}`);
  }
  return `${lines.join('\n')}\n`;
}

export default async function* summaryReporter(source: AsyncIterable<Event>): AsyncGenerator<string> {
  const events: Event[] = [];
  for await (const event of source) {
    if (event.type === 'test:pass' || event.type === 'test:fail') events.push({ type: event.type, data: event.data });
  }
  yield summarize(events);
}
