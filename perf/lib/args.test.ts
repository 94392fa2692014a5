import { test } from 'node:test';
import assert from 'node:assert/strict';
import { USAGE, parseArgs } from './args.ts';

test('defaults: all protocols, all targets, 1k and 5k', () => {
  const o = parseArgs([]);
  assert.deepEqual(o.protocols, ['h1', 'h2c', 'grpc']);
  assert.equal(o.targets, null);
  assert.deepEqual(o.rates, [1000, 5000]);
  assert.equal(o.pin, true);
});

test('filters; direct is always added as the baseline', () => {
  const o = parseArgs(['--only', 'h1,grpc', '--targets', 'sluice,haproxy', '--rates', '2000']);
  assert.deepEqual(o.protocols, ['h1', 'grpc']);
  assert.deepEqual(o.targets, ['direct', 'sluice', 'haproxy']);
  assert.deepEqual(o.rates, [2000]);
});

test('--quick shortens runs but keeps explicit values', () => {
  const q = parseArgs(['--quick', '--seconds', '4']);
  assert.equal(q.quick, true);
  assert.equal(q.fixedSeconds, 4);
  assert.ok(q.saturationSeconds < parseArgs([]).saturationSeconds);
});

test('bad input is refused', () => {
  assert.throws(() => parseArgs(['--only', 'h3']), /unknown protocol/);
  assert.throws(() => parseArgs(['--rates', '0']), /positive/);
  assert.throws(() => parseArgs(['--seconds']), /needs a value/);
  assert.throws(() => parseArgs(['--frobnicate']), /unknown option/);
});

test('--only controller runs the controller section alone; default runs it too', () => {
  assert.equal(parseArgs([]).controller, true);
  const o = parseArgs(['--only', 'controller']);
  assert.deepEqual([o.protocols, o.controller], [[], true]);
  assert.deepEqual([parseArgs(['--only', 'h1']).controller, parseArgs(['--only', 'h1,controller']).protocols], [false, ['h1']]);
});

test('the usage names every target, the mesh ones included', async () => {
  const { TARGETS } = await import('../targets.ts');
  const names = /--targets a,b[\s\S]*?names: ([\s\S]*?)\n\s+--rates/.exec(USAGE)?.[1]?.split(/\s+/) ?? [];
  assert.deepEqual([...names].sort(), TARGETS.map((t) => t.name).sort());
  assert.deepEqual(parseArgs(['--targets', 'sluice-mesh,sluice-mesh-2']).targets, ['direct', 'sluice-mesh', 'sluice-mesh-2']);
});

test('--only handshakes runs the mTLS handshake section alone; default runs it too', () => {
  assert.equal(parseArgs([]).handshakes, true);
  const o = parseArgs(['--only', 'handshakes']);
  assert.deepEqual([o.protocols, o.controller, o.handshakes], [[], false, true]);
  assert.equal(parseArgs(['--only', 'h2c']).handshakes, false);
  assert.throws(() => parseArgs(['--only', 'handshake']), /expected h1, h2c, grpc, controller, handshakes/);
});

test('--mesh-transport: the controller mesh on ReportStream by default, unary Report calls to compare, in the order given', () => {
  assert.deepEqual(parseArgs([]).meshTransports, ['stream']);
  assert.deepEqual(parseArgs(['--mesh-transport', 'unary,stream']).meshTransports, ['unary', 'stream']);
  assert.deepEqual(parseArgs(['--mesh-transport', 'unary']).meshTransports, ['unary']);
  assert.throws(() => parseArgs(['--mesh-transport', 'carrier-pigeon']), /stream and\/or unary/);
  assert.throws(() => parseArgs(['--mesh-transport', '']), /stream and\/or unary/);
});

test('--rounds: 3 fixed-rate rounds by default, 1 with --quick unless given, whole numbers ≥ 1 only', () => {
  assert.equal(parseArgs([]).rounds, 3);
  assert.equal(parseArgs(['--quick']).rounds, 1);
  assert.equal(parseArgs(['--quick', '--rounds', '2']).rounds, 2);
  assert.equal(parseArgs(['--rounds', '3']).rounds, 3);
  assert.throws(() => parseArgs(['--rounds', '0']), /whole number/);
  assert.throws(() => parseArgs(['--rounds', '1.5']), /whole number/);
  assert.throws(() => parseArgs(['--rounds', 'two']), /whole number/);
  assert.match(USAGE, /--rounds N/);
});

test('only a full run is the committed result: --only, --targets and --quick runs are partial', () => {
  assert.equal(parseArgs([]).partial, false);
  assert.equal(parseArgs(['--no-deps', '--rounds', '3']).partial, false);
  assert.equal(parseArgs(['--only', 'controller']).partial, true);
  assert.equal(parseArgs(['--targets', 'sluice']).partial, true);
  assert.equal(parseArgs(['--quick']).partial, true);
});
