import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { Buffer } from 'node:buffer';
import { COALESCE_LIMIT, WriteBatch } from './write-batch.ts';

/** A connected pair on loopback; `received` resolves with everything the far side read until close. */
async function pair(): Promise<{ near: net.Socket; received: Promise<Buffer>; close(): void }> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const near = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  const [far] = (await once(server, 'connection')) as [net.Socket];
  const chunks: Buffer[] = [];
  far.on('data', (c: Buffer) => chunks.push(c));
  const received = once(far, 'end').then(() => Buffer.concat(chunks));
  return { near, received, close: () => server.close() };
}

/** Counts the socket's write() calls. */
function countWrites(socket: net.Socket): { readonly count: number } {
  const counter = { count: 0 };
  const write = socket.write.bind(socket) as (chunk: Buffer) => boolean;
  socket.write = ((chunk: Buffer) => {
    counter.count++;
    return write(chunk);
  }) as typeof socket.write;
  return counter;
}

test('the small frames of one tick reach the socket as one write, in order, and count as buffered until then', { timeout: 5000 }, async () => {
  const { near, received, close } = await pair();
  const writes = countWrites(near);
  const batch = new WriteBatch(near);
  batch.write(Buffer.from('HEADERS|'));
  batch.write(Buffer.from('DATA-HEADER|'));
  batch.write(Buffer.from('payload'));
  assert.equal(batch.buffered, 27);
  assert.equal(writes.count, 0);
  await new Promise((resolve) => process.nextTick(resolve));
  assert.equal(writes.count, 1);
  near.end();
  assert.equal((await received).toString(), 'HEADERS|DATA-HEADER|payload');
  close();
});

test('a batch larger than the coalescing limit is written buffer by buffer (no copy), bytes intact', { timeout: 5000 }, async () => {
  const { near, received, close } = await pair();
  const writes = countWrites(near);
  const batch = new WriteBatch(near);
  const big = Buffer.alloc(COALESCE_LIMIT, 7);
  batch.write(Buffer.from([1, 2, 3]));
  batch.write(big);
  batch.write(Buffer.from([9]));
  batch.flush();
  assert.equal(writes.count, 3);
  assert.equal(batch.buffered, near.writableLength);
  near.end();
  assert.deepEqual(await received, Buffer.concat([Buffer.from([1, 2, 3]), big, Buffer.from([9])]));
  close();
});

test('flushing now (before the socket ends) sends what was gathered; a destroyed socket drops the batch', { timeout: 5000 }, async () => {
  const { near, received, close } = await pair();
  const batch = new WriteBatch(near);
  batch.write(Buffer.from('GOAWAY'));
  batch.flush();
  near.end();
  assert.equal((await received).toString(), 'GOAWAY');
  batch.write(Buffer.from('late'));
  near.destroy();
  batch.flush();
  assert.equal(batch.buffered, 0);
  close();
});
