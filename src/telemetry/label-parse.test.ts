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
