// Writes the fault matrix's last measurements (test/faults/results/*.json, written by the suite) into
// docs/reliability.md, between its `matrix` markers: `node test/faults/render.ts` after a run.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Protocol } from './load.ts';
import { COLUMNS, RESULTS_DIR, ROWS, readResults, type CellResult } from './matrix.ts';

const DOC = fileURLToPath(new URL('../../docs/reliability.md', import.meta.url));
const START = '<!-- matrix:start (written by test/faults/render.ts) -->';
const END = '<!-- matrix:end -->';
const COLUMN_NAMES: Record<Protocol, string> = { http1: 'HTTP/1.1', h2c: 'h2c', grpc: 'gRPC', tcp: 'TCP' };

/** The table and the details of each cell, as markdown. Pure. */
export function renderMatrix(cells: readonly CellResult[]): string {
  const at = (row: string, column: Protocol): CellResult[] => cells.filter((c) => c.row === row && c.column === column);
  const mark = (list: readonly CellResult[]): string => {
    if (list.length === 0) return 'not measured';
    if (list.every((c) => c.pass === 'n/a')) return 'n/a';
    return list.map((c) => `${c.pass === true ? '✔' : '✖'} ${c.topology}`).join('<br>');
  };
  const lines = [`| Fault | ${COLUMNS.map((c) => COLUMN_NAMES[c]).join(' | ')} |`, `|---|${COLUMNS.map(() => '---').join('|')}|`];
  for (const row of ROWS) lines.push(`| ${row} | ${COLUMNS.map((c) => mark(at(row, c))).join(' | ')} |`);
  const last = cells.map((c) => c.measuredAt).sort().at(-1);
  lines.push('', `Last measured: ${last ?? 'never'}. ✔ passed, ✖ failed, per topology it ran in.`, '');
  for (const row of ROWS) {
    lines.push(`### ${row}`, '');
    for (const column of COLUMNS) {
      for (const c of at(row, column)) {
        if (c.pass === 'n/a') {
          lines.push(`- **${COLUMN_NAMES[column]}**: not applicable: ${c.expected}`);
          continue;
        }
        lines.push(`- **${COLUMN_NAMES[column]}, ${c.topology}** ${c.pass ? '✔' : '✖'}: requires ${c.expected}. Measured: \`${JSON.stringify(c.measured)}\``);
      }
    }
    lines.push('');
  }
  return lines.join('\n');
}

function main(): void {
  const files = readdirSync(RESULTS_DIR).filter((f) => f.endsWith('.json'));
  const cells = files.flatMap((f) => readResults(`${RESULTS_DIR}${f}`));
  const doc = readFileSync(DOC, 'utf8');
  const start = doc.indexOf(START);
  const end = doc.indexOf(END);
  if (start < 0 || end < start) throw new Error(`${DOC} has no matrix markers`);
  writeFileSync(DOC, `${doc.slice(0, start + START.length)}\n${renderMatrix(cells)}\n${doc.slice(end)}`);
  console.log(`docs/reliability.md: ${cells.length} cells from ${files.length} files`);
}

if (import.meta.url === `file://${process.argv[1]}`) main();
