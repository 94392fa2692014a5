// The static table of RFC 7541 Appendix A, checked against hpack.js's copy, and the encoder's lookups.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { STATIC_BY_NAME, STATIC_NAMES, STATIC_TABLE_LENGTH, STATIC_VALUES } from './static-table.ts';

describe('static table', () => {
  it('holds the 61 entries of RFC 7541 Appendix A (as hpack.js has them)', () => {
    const theirs = (createRequire(import.meta.url)('hpack.js') as { 'static-table': { table: Array<{ name: string; value: string }> } })['static-table'].table;
    assert.equal(STATIC_TABLE_LENGTH, 61);
    assert.deepEqual(
      STATIC_NAMES.map((name, i) => [name, STATIC_VALUES[i]]),
      theirs.map((entry) => [entry.name, entry.value]),
    );
  });

  it('finds exact fields and names, the lowest index for a name', () => {
    assert.equal(STATIC_BY_NAME.get(':method')?.values.get('POST'), 3);
    assert.equal(STATIC_BY_NAME.get(':status')?.index, 8);
    assert.equal(STATIC_BY_NAME.get(':status')?.values.get('404'), 13);
    assert.equal(STATIC_BY_NAME.get(':status')?.values.get('201'), undefined);
    assert.equal(STATIC_BY_NAME.get('www-authenticate')?.values.get(''), 61);
    assert.equal(STATIC_BY_NAME.get('grpc-status'), undefined);
  });
});
