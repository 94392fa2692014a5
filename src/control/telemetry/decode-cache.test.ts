// The decode cache hands back what was stored for the same bytes, never for other bytes (whatever their
// hash), and starts again empty when its arena or its entry count is full.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DecodeCache, hashBytes } from './decode-cache.ts';

describe('DecodeCache', () => {
  it('finds a value only for the very bytes it was added for, wherever they lie in a buffer', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 40 }), { minLength: 1, maxLength: 30 }), fc.integer({ min: 0, max: 9 }), (chunks, pad) => {
        const cache = new DecodeCache<string>(4096, 1000);
        const key = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
        for (const chunk of chunks) {
          const buf = Buffer.concat([Buffer.alloc(pad, 0xaa), chunk, Buffer.alloc(3, 0xbb)]);
          const found = cache.find(buf, pad, pad + chunk.length);
          if (found === undefined) cache.add(buf, pad, pad + chunk.length, key(chunk));
          else assert.equal(found, key(chunk));
        }
        for (const chunk of chunks) assert.equal(cache.find(Buffer.from(chunk), 0, chunk.length), key(chunk));
      }),
      { numRuns: 200 },
    );
  });

  it('keeps values whose bytes share a hash apart', () => {
    // Two labels with the same 30-bit hash (found by search).
    const a = Buffer.from('pod-285386416');
    const b = Buffer.from('pod-3128957147');
    assert.equal(hashBytes(a, 0, a.length), hashBytes(b, 0, b.length));
    const cache = new DecodeCache<string>(4096, 100);
    cache.add(a, 0, a.length, 'a');
    assert.equal(cache.find(b, 0, b.length), undefined);
    cache.add(b, 0, b.length, 'b');
    assert.equal(cache.find(a, 0, a.length), 'a');
    assert.equal(cache.find(b, 0, b.length), 'b');
  });

  it('starts again empty when full, and still answers correctly', () => {
    const cache = new DecodeCache<number>(64, 4);
    for (let i = 0; i < 10; i++) cache.add(Buffer.from(`k${i}`), 0, 2, i);
    assert.ok(cache.resets >= 2, String(cache.resets));
    assert.ok(cache.size <= 4);
    assert.equal(cache.find(Buffer.from('k9'), 0, 2), 9);
    assert.equal(cache.find(Buffer.from('k0'), 0, 2), undefined);
  });
});
