import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { CHUNKED_BAD, CHUNKED_MORE, ChunkedDecoder } from './chunked-decoder.ts';

/** Decodes `wire` fed in `pieces` (split points): the payload, the trailers, and where the body ended in the last piece. */
function decodeIn(wire: Buffer, cuts: number[]): { payload: string; trailers: string; result: number } {
  const decoder = new ChunkedDecoder();
  const out: Buffer[] = [];
  const points = [...new Set(cuts.filter((c) => c > 0 && c < wire.length))].sort((a, b) => a - b);
  let from = 0;
  let result = CHUNKED_MORE;
  for (const to of [...points, wire.length]) {
    result = decoder.decode(wire.subarray(from, to), 0, to - from, out);
    if (result !== CHUNKED_MORE) break;
    from = to;
  }
  return { payload: Buffer.concat(out).toString('latin1'), trailers: decoder.trailers, result };
}

test('payload comes out without the framing; extensions skipped; the end is found exactly', () => {
  const wire = Buffer.from('5;name=v\r\nhello\r\n6\r\n world\r\n0\r\n\r\nNEXT', 'latin1');
  const { payload, trailers, result } = decodeIn(wire, []);
  assert.equal(payload, 'hello world');
  assert.equal(trailers, '');
  assert.equal(result, wire.length - 'NEXT'.length);
});

test('trailers are kept as their lines', () => {
  const wire = Buffer.from('3\r\nabc\r\n0\r\nx-digest: 1\r\nx-other: two\r\n\r\n', 'latin1');
  assert.deepEqual(decodeIn(wire, []), { payload: 'abc', trailers: 'x-digest: 1\r\nx-other: two', result: wire.length });
});

test('malformed framing is refused', () => {
  for (const bad of ['x\r\n', '3\r\nabcX\r\n', '3\nabc', '\r\n', '3\r\nabc\r\r', '3;ext\nabc', `${'f'.repeat(14)}\r\n`]) {
    assert.equal(decodeIn(Buffer.from(bad, 'latin1'), []).result, CHUNKED_BAD, JSON.stringify(bad));
  }
});

test('a trailer section larger than 16 KiB is refused', () => {
  const wire = Buffer.from(`0\r\nx-big: ${'a'.repeat(17 << 10)}\r\n\r\n`, 'latin1');
  assert.equal(decodeIn(wire, []).result, CHUNKED_BAD);
});

test('property: any chunking of any payload, split anywhere, decodes to the payload and its trailers', () => {
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ minLength: 1, maxLength: 40 }), { maxLength: 6 }),
      fc.array(fc.tuple(fc.constantFrom('x-a', 'x-b', 'grpc-status'), fc.stringMatching(/^[a-z0-9]{0,8}$/)), { maxLength: 2 }),
      fc.array(fc.nat(), { maxLength: 8 }),
      fc.boolean(),
      (chunks, trailers, cuts, upper) => {
        let text = '';
        for (const c of chunks) text += `${upper ? c.length.toString(16).toUpperCase() : c.length.toString(16)}\r\n${Buffer.from(c).toString('latin1')}\r\n`;
        const trailerText = trailers.map(([n, v]) => `${n}: ${v}`).join('\r\n');
        text += `0\r\n${trailerText === '' ? '' : `${trailerText}\r\n`}\r\n`;
        const wire = Buffer.from(text, 'latin1');
        const got = decodeIn(wire, cuts.map((c) => c % (wire.length + 1)));
        assert.equal(got.result >= 0, true);
        assert.equal(got.payload, Buffer.concat(chunks.map((c) => Buffer.from(c))).toString('latin1'));
        assert.equal(got.trailers, trailerText);
      },
    ),
  );
});
