// The writer's length-delimited values: fork keeps one byte for the length and join moves the value
// only when its length needs more, so the bytes must be those of a length written up front, at every
// varint boundary and nested.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ProtoReader, ProtoWriter, WireType } from './protobuf-wire.ts';

/** A varint the plain way (the reference). */
function varint(n: number): number[] {
  const out: number[] = [];
  let v = n;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
  return out;
}

/** Writes `n` raw bytes of 0x2b (a varint below 128 is its one byte). */
function fill(w: ProtoWriter, n: number): void {
  for (let i = 0; i < n; i++) w.varint32(0x2b);
}

/** Field 1 holding `payload`, written up front. */
function reference(payload: Buffer): Buffer {
  return Buffer.concat([Buffer.from([(1 << 3) | WireType.LEN, ...varint(payload.length)]), payload]);
}

describe('ProtoWriter fork/join', () => {
  it('writes the length a value needs, one to four bytes, at every boundary', () => {
    for (const size of [0, 1, 127, 128, 129, 16_383, 16_384, 2_097_151, 2_097_152]) {
      const payload = Buffer.alloc(size, 0x2b);
      const w = new ProtoWriter(16);
      w.tag(1, WireType.LEN);
      const start = w.fork();
      fill(w, size);
      w.join(start);
      assert.deepEqual(w.finish(), reference(payload), `a value of ${size} bytes`);
    }
  });

  it('nests values of any sizes as their lengths written up front would', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 400 }), { minLength: 1, maxLength: 5 }), (sizes) => {
        // Innermost first: each level holds its own bytes, then the level inside it.
        const w = new ProtoWriter(16);
        const starts: number[] = [];
        for (const size of sizes) {
          w.tag(1, WireType.LEN);
          starts.push(w.fork());
          fill(w, size);
        }
        for (const start of starts.reverse()) w.join(start);
        let expected: Buffer = Buffer.alloc(0);
        for (const size of [...sizes].reverse()) expected = reference(Buffer.concat([Buffer.alloc(size, 0x2b), expected]));
        const bytes = w.finish();
        assert.deepEqual(bytes, expected);
        // And a reader walks it back down.
        let reader = new ProtoReader(bytes);
        for (const size of sizes) {
          assert.equal(reader.tag(), (1 << 3) | WireType.LEN);
          reader = reader.sub();
          reader.pos += size;
        }
        assert.equal(reader.done(), true);
      }),
      { numRuns: 200 },
    );
  });
});
