import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GRPC_REQUEST, grpcFrame, grpcUnframe, protoString1 } from './grpc-frame.ts';

test('gRPC framing: flag byte, big-endian length, message', () => {
  const f = grpcFrame(Buffer.from([1, 2, 3]));
  assert.deepEqual([...f], [0, 0, 0, 0, 3, 1, 2, 3]);
  assert.deepEqual(grpcUnframe(Buffer.concat([f, grpcFrame(Buffer.alloc(0))])).map((m) => [...m]), [[1, 2, 3], []]);
  assert.throws(() => grpcUnframe(f.subarray(0, 6)), /truncated/);
});

test('protobuf string field 1', () => {
  assert.deepEqual([...protoString1('ping')], [0x0a, 4, 0x70, 0x69, 0x6e, 0x67]);
  assert.deepEqual([...GRPC_REQUEST], [0, 0, 0, 0, 6, 0x0a, 4, 0x70, 0x69, 0x6e, 0x67]);
  assert.throws(() => protoString1('x'.repeat(200)));
});
