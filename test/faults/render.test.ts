// The matrix rendering: every row and column appears, each cell says per topology (one or two workers,
// the chain, the mesh hop) whether it passed, and cells that do not apply say why.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ROWS, type CellResult } from './matrix.ts';
import { renderMatrix } from './render.ts';

const cell = (fields: Partial<CellResult>): CellResult => ({
  row: ROWS[0],
  column: 'http1',
  topology: '1 worker',
  expected: 'nothing lost',
  measured: { load: { ok: 300 } },
  pass: true,
  measuredAt: '2026-01-01T00:00:00.000Z',
  ...fields,
});

describe('renderMatrix', () => {
  it('marks each cell per topology, names failures, and gives the reason where a cell does not apply', () => {
    const text = renderMatrix([
      cell({}),
      cell({ topology: 'chain', pass: false, measuredAt: '2026-01-02T00:00:00.000Z' }),
      cell({ column: 'tcp', topology: 'n/a', pass: 'n/a', expected: 'no head to flood' }),
      cell({ row: ROWS[1], topology: 'mesh hop', expected: 'shed the excess' }),
    ]);
    const lines = text.split('\n');
    assert.equal(lines[0], '| Fault | HTTP/1.1 | h2c | gRPC | TCP |');
    assert.equal(lines.filter((l) => l.startsWith('| ') && !l.startsWith('| Fault')).length, ROWS.length);
    assert.ok(lines.includes(`| ${ROWS[0]} | ✔ 1 worker<br>✖ chain | not measured | not measured | n/a |`), text);
    assert.ok(lines.includes(`| ${ROWS[1]} | ✔ mesh hop | not measured | not measured | not measured |`), text);
    assert.match(text, /Last measured: 2026-01-02T00:00:00\.000Z/);
    assert.match(text, /\*\*TCP\*\*: not applicable: no head to flood/);
    assert.match(text, /\*\*HTTP\/1\.1, chain\*\* ✖: requires nothing lost\. Measured: `\{"load":\{"ok":300\}\}`/);
    assert.match(text, /\*\*HTTP\/1\.1, mesh hop\*\* ✔: requires shed the excess\./);
  });
});
