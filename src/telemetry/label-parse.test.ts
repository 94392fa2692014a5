// parseLabels reads back exactly what labels() writes, escapes included.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseLabels } from './label-parse.ts';
import { labels } from './metrics.ts';

describe('parseLabels', () => {
  it('inverts labels() for any values', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.stringMatching(/^[a-z][a-z0-9_]{0,8}$/), fc.string()), (pairs) => {
        assert.deepEqual(parseLabels(labels(pairs)), Object.entries(pairs));
      }),
    );
  });

  it('reads an empty string as no labels', () => {
    assert.deepEqual(parseLabels(''), []);
    assert.deepEqual(parseLabels('direction="inbound",authority="a\\"b\\\\c\\nd"'), [
      ['direction', 'inbound'],
      ['authority', 'a"b\\c\nd'],
    ]);
  });
});

/** The first parser, a character at a time: what the faster one must read any text as. */
function referenceParse(text: string): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  let i = 0;
  while (i < text.length) {
    const eq = text.indexOf('="', i);
    if (eq < 0) break;
    const name = text.slice(i, eq);
    let value = '';
    let j = eq + 2;
    for (; j < text.length; j++) {
      const c = text[j];
      if (c === '"') break;
      if (c === '\\' && j + 1 < text.length) {
        const next = text[++j];
        value += next === 'n' ? '\n' : next;
      } else {
        value += c;
      }
    }
    pairs.push([name, value]);
    i = j + 1;
    if (text[i] === ',') i++;
  }
  return pairs;
}

describe('parseLabels on any text', () => {
  it('reads malformed text (unterminated values, stray escapes) as the character-at-a-time parser did', () => {
    const pieces = fc.constantFrom('a', 'b="', '"', ',', '\\', '\\"', '\\n', '=', 'x="y"', 'é');
    fc.assert(
      fc.property(fc.array(pieces, { maxLength: 20 }), (parts) => {
        const text = parts.join('');
        assert.deepEqual(parseLabels(text), referenceParse(text));
      }),
      { numRuns: 500 },
    );
    assert.deepEqual(parseLabels('a="unterminated'), [['a', 'unterminated']]);
    assert.deepEqual(parseLabels('a="x\\'), [['a', 'x\\']]);
  });
});
