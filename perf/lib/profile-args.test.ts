import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseProfileArgs } from './profile-args.ts';

test('defaults: both profilers, all three protocols, the forward-address proxy, 15 s', () => {
  const o = parseProfileArgs([]);
  assert.deepEqual(o.modes, ['clinic', 'cpu-prof']);
  assert.deepEqual(o.protocols, ['h1', 'h2c', 'grpc']);
  assert.equal(o.target, 'sluice');
  assert.deepEqual([o.seconds, o.h1Connections, o.h2Connections, o.streams, o.top], [15, 32, 4, 32, 30]);
});

test('the mesh path, some protocols, one profiler', () => {
  const o = parseProfileArgs(['--target', 'sluice-mesh', '--protocols', 'grpc,h2c,grpc', '--only', 'cpu-prof', '--seconds', '5', '--streams', '8']);
  assert.deepEqual([o.target, o.protocols, o.modes, o.seconds, o.streams], ['sluice-mesh', ['grpc', 'h2c'], ['cpu-prof'], 5, 8]);
});

test('bad input is refused with the reason', () => {
  assert.throws(() => parseProfileArgs(['--target', 'haproxy']), /unknown target 'haproxy' \(expected sluice or sluice-mesh\)/);
  assert.throws(() => parseProfileArgs(['--protocols', 'h3']), /unknown protocol 'h3'/);
  assert.throws(() => parseProfileArgs(['--protocols', ',']), /at least one/);
  assert.throws(() => parseProfileArgs(['--only', 'perf']), /clinic or cpu-prof/);
  assert.throws(() => parseProfileArgs(['--seconds', '1.5']), /whole number/);
  assert.throws(() => parseProfileArgs(['--top']), /needs a value/);
  assert.throws(() => parseProfileArgs(['--frobnicate']), /unknown option/);
  assert.equal(parseProfileArgs(['-h']).help, true);
});
