import { test } from 'node:test';
import assert from 'node:assert/strict';
import { medianRun, parseAutocannon, parseH2load, saturationCommand } from './saturation.ts';

test('autocannon JSON: 2xx are the successes, errors summed', () => {
  const c = parseAutocannon(JSON.stringify({ duration: 4.02, '2xx': 40000, non2xx: 3, errors: 1, timeouts: 2, mismatches: 0, requests: { total: 40003 } }));
  assert.deepEqual(c, { tool: 'autocannon', requests: 40000, errors: 6, seconds: 4.02 });
});

test('h2load text summary', () => {
  const text = [
    'finished in 3.00s, 6368.00 req/s, 726.75KB/s',
    'requests: 19104 total, 19168 started, 19104 done, 19100 succeeded, 4 failed, 0 errored, 0 timeout',
    'status codes: 19100 2xx, 0 3xx, 0 4xx, 4 5xx',
  ].join('\n');
  assert.deepEqual(parseH2load(text), { tool: 'h2load', requests: 19100, errors: 4, seconds: 3 });
  assert.equal(parseH2load(text.replace('3.00s', '500.00ms')).seconds, 0.5);
  assert.throws(() => parseH2load('connect refused'), /cannot read h2load/);
});

const base = { port: 4140, seconds: 2.5, connections: 4, streams: 32, core: undefined, tmpDir: '/tmp', root: '/r' };

test('autocannon: Host from -H (name=value, so the colon of the port stays in the value)', () => {
  const c = saturationCommand({ ...base, protocol: 'h1', authority: 'backend.perf.svc.cluster.local:80' }, '/tmp/body');
  assert.equal(c.tool, 'autocannon');
  assert.equal(c.cmd, process.execPath);
  assert.deepEqual(c.args, ['/r/node_modules/autocannon/autocannon.js', '-c', '4', '-d', '2.5', '-j', '-n', '-H', 'host=backend.perf.svc.cluster.local:80', 'http://127.0.0.1:4140/']);
  assert.ok(!saturationCommand({ ...base, protocol: 'h1' }, '').args.includes('-H'), 'no authority: autocannon sends the address');
});

test('h2load: :authority replaced with -H for h2c and gRPC; gRPC posts the request file', () => {
  const h2c = saturationCommand({ ...base, protocol: 'h2c', authority: 'backend.perf.svc.cluster.local:80' }, '/tmp/body');
  assert.deepEqual(h2c.args, ['-t', '1', '-c', '4', '-m', '32', '-D', '2500ms', '-H', ':authority: backend.perf.svc.cluster.local:80', 'http://127.0.0.1:4140/']);
  const grpc = saturationCommand({ ...base, protocol: 'grpc', authority: 'a.b.svc.cluster.local:80' }, '/tmp/body');
  assert.equal(grpc.cmd, 'h2load');
  assert.deepEqual(grpc.args.slice(8), ['-H', ':authority: a.b.svc.cluster.local:80', '-d', '/tmp/body', '-H', 'content-type: application/grpc', '-H', 'te: trailers', 'http://127.0.0.1:4140/sluice.perf.Echo/Unary']);
  assert.ok(!saturationCommand({ ...base, protocol: 'grpc' }, '/tmp/body').args.some((a) => a.startsWith(':authority')));
});

test('the kept saturation run is the median by proxy CPU per request at equal core speed, or by requests/s without a proxy', () => {
  const runs = [
    { proxyCpuUsPerRequest: 61, rps: 10_100, backendCpuUsPerRequest: 22 },
    { proxyCpuUsPerRequest: 42, rps: 14_500, backendCpuUsPerRequest: 22 },
    { proxyCpuUsPerRequest: 50, rps: 12_000, backendCpuUsPerRequest: 22 },
  ];
  assert.equal(medianRun(runs), runs[2]);
  assert.equal(medianRun([runs[0]!, runs[1]!]), runs[1], 'of two, the lower middle');
  // A run on a core 1.7× slower than the others is its own figure divided by that: 71.4 / 37.4 ≈ 42 / 22.
  const slowCore = [
    { proxyCpuUsPerRequest: 71.4, rps: 8_500, backendCpuUsPerRequest: 37.4 },
    { proxyCpuUsPerRequest: 40, rps: 15_000, backendCpuUsPerRequest: 22 },
    { proxyCpuUsPerRequest: 46, rps: 13_500, backendCpuUsPerRequest: 22 },
  ];
  assert.equal(medianRun(slowCore), slowCore[0], 'the slow-core run is in the middle once its speed is taken out');
  const direct = [
    { proxyCpuUsPerRequest: null, rps: 30_000, backendCpuUsPerRequest: 20 },
    { proxyCpuUsPerRequest: null, rps: 41_000, backendCpuUsPerRequest: 20 },
    { proxyCpuUsPerRequest: null, rps: 28_000, backendCpuUsPerRequest: 20 },
  ];
  assert.equal(medianRun(direct), direct[0]);
  assert.equal(medianRun([]), undefined);
});
