import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jsonLines, StreamFailed } from './json-lines.ts';

async function* chunks(...parts: string[]): AsyncGenerator<Uint8Array> {
  for (const part of parts) yield new TextEncoder().encode(part);
}

async function collect(body: AsyncIterable<Uint8Array>): Promise<unknown[]> {
  const out: unknown[] = [];
  for await (const message of jsonLines(body)) out.push(message);
  return out;
}

test('messages split anywhere across chunks (even inside a UTF-8 character), blank lines skipped', async () => {
  const bytes = new TextEncoder().encode('{"a":1}\n\n{"b":"µ"}\n');
  const split = [bytes.subarray(0, 3), bytes.subarray(3, 13), bytes.subarray(13)];
  async function* body(): AsyncGenerator<Uint8Array> {
    yield* split;
  }
  assert.deepEqual(await collect(body()), [{ a: 1 }, { b: 'µ' }]);
});

test("the public API's {error, code} message ends the stream as StreamFailed; a message that only has an error field is data", async () => {
  await assert.rejects(collect(chunks('{"x":1}\n{"error":"no pods to tap","code":5}\n{"y":2}\n')), (e: Error) => e instanceof StreamFailed && e.message === 'no pods to tap');
  assert.deepEqual(await collect(chunks('{"error":"x","code":5,"more":1}\n')), [{ error: 'x', code: 5, more: 1 }]);
});
