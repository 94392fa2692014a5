import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CHECK_RATES, computeChecks, errorsAt, latencyCheck, p99Added } from './checks.ts';
import { keepRound } from './rounds.ts';
import { fixed } from './results.testkit.ts';
import type { OpenLoopResult, Protocol, RunResult } from './types.ts';


interface Figures {
  cpu?: number;
  rps?: number;
  /** The backend's CPU per request in the same run (the core's speed), µs; 10 unless given. */
  backendUs?: number;
  /** p99 at 1k and 5k, µs. */
  p99?: [number, number];
  errors?: number;
  idleMb?: number[];
  idleSettledMb?: number[];
  afterSatMb?: number[];
}

function run(target: string, protocol: Protocol, f: Figures): RunResult {
  const rps = f.rps ?? 10_000;
  const idle = f.idleMb ?? [];
  return {
    target,
    protocol,
    ok: true,
    memory: idle.map((m, i) => ({
      idle: m * 1e6,
      ...(f.idleSettledMb === undefined ? {} : { idleSettled: (f.idleSettledMb[i] ?? m) * 1e6 }),
      afterSaturation: (f.afterSatMb?.[i] ?? m) * 1e6,
      peak: 0,
      end: 0,
    })),
    saturation: {
      tool: protocol === 'h1' ? 'autocannon' : 'h2load',
      seconds: 3,
      connections: 4,
      streams: 32,
      requests: rps * 3,
      errors: 0,
      rps,
      proxyCpuSeconds: f.cpu === undefined ? null : (f.cpu * rps * 3) / 1e6,
      proxyCpuUsPerRequest: f.cpu ?? null,
      backendCpuUsPerRequest: f.backendUs ?? 10,
    },
    fixed: f.p99 === undefined ? [] : [fixed(protocol, 1000, f.p99[0], f.errors), fixed(protocol, 5000, f.p99[1])],
    notes: [],
  };
}

const byName = (runs: RunResult[]) => {
  const checks = computeChecks(runs);
  return (prefix: string) => {
    const c = checks.filter((x) => x.name.startsWith(prefix));
    assert.equal(c.length, 1, `exactly one check starts with '${prefix}'`);
    return c[0] as (typeof checks)[number];
  };
};

test('the latency targets are stated at 1,000 and 5,000 req/s', () => {
  assert.deepEqual(CHECK_RATES, [1000, 5000]);
});

test('CPU per request: ratio to HAProxy of the same protocol, limits 2× HTTP/1.1 (both paths), 4× h2c and gRPC', () => {
  const by = byName([
    run('haproxy', 'h1', { cpu: 30 }),
    run('sluice', 'h1', { cpu: 60 }),
    run('sluice-mesh', 'h1', { cpu: 61 }),
    run('haproxy', 'h2c', { cpu: 10 }),
    run('sluice', 'h2c', { cpu: 40 }),
    run('haproxy', 'grpc', { cpu: 20 }),
    run('sluice-mesh', 'grpc', { cpu: 90 }),
  ]);
  assert.deepEqual(by('HTTP/1.1 CPU per request, forward-address path'), {
    name: 'HTTP/1.1 CPU per request, forward-address path (sluice) vs HAProxy, at equal core speed',
    limit: '≤ 2×',
    value: '2.00× (60.0 vs 30.0 µs; 2.00× as measured; backend 10.0 vs 10.0 µs/req in the same runs)',
    pass: true,
  });
  assert.equal(by('HTTP/1.1 CPU per request, mesh path (sluice-mesh)').pass, false);
  assert.equal(by('h2c CPU per request, forward-address path').pass, true);
  assert.equal(by('h2c CPU per request, mesh path').value, 'not measured');
  assert.equal(by('gRPC unary CPU per request, mesh path').pass, false);
  assert.equal(by('gRPC unary CPU per request, forward-address path').pass, null);
});

test('CPU and throughput are compared at equal core speed: a run on a core 1.7× slower (its backend too) is not held against the proxy', () => {
  const by = byName([
    run('haproxy', 'h1', { cpu: 23, rps: 21_000, backendUs: 22 }),
    // Measured minutes later on a slowed core: the backend's CPU per request went 22 → 37.4 as well.
    run('sluice', 'h1', { cpu: 68, rps: 9_000, backendUs: 37.4 }),
  ]);
  const cpu = by('HTTP/1.1 CPU per request, forward-address path');
  assert.equal(cpu.value, '1.74× (68.0 vs 23.0 µs; 2.96× as measured; backend 37.4 vs 22.0 µs/req in the same runs)');
  assert.equal(cpu.pass, true);
  const rps = by('HTTP/1.1 saturation, forward-address path');
  assert.equal(rps.value, '0.73× (9000 vs 21000 req/s; 0.43× as measured; backend 37.4 vs 22.0 µs/req in the same runs)');
  assert.equal(rps.pass, true);
});

test('CPU and throughput ratios are not measured without HAProxy in the run', () => {
  const by = byName([run('sluice', 'h1', { cpu: 60, rps: 9000 })]);
  assert.equal(by('HTTP/1.1 CPU per request, forward-address path').pass, null);
  assert.equal(by('HTTP/1.1 saturation, forward-address path').pass, null);
});

test('saturation: HTTP/1.1 ≥ 0.6× and h2c ≥ 0.4× HAProxy requests/s', () => {
  const by = byName([
    run('haproxy', 'h1', { rps: 10_000 }),
    run('sluice', 'h1', { rps: 6000 }),
    run('sluice-mesh', 'h1', { rps: 5999 }),
    run('haproxy', 'h2c', { rps: 20_000 }),
    run('sluice', 'h2c', { rps: 8000 }),
  ]);
  assert.equal(by('HTTP/1.1 saturation, forward-address path').pass, true);
  assert.equal(by('HTTP/1.1 saturation, mesh path').pass, false);
  assert.equal(by('h2c saturation, forward-address path').value, '0.40× (8000 vs 20000 req/s; 0.40× as measured; backend 10.0 vs 10.0 µs/req in the same runs)');
  assert.equal(by('h2c saturation, forward-address path').pass, true);
});

test('p99 added: ≤ 1 ms through one proxy, ≤ 2 ms through two, at both rates, with 0 errors', () => {
  const runs = [
    run('direct', 'grpc', { p99: [500, 600] }),
    run('sluice-mesh', 'grpc', { p99: [1400, 1700] }),
    run('sluice-mesh-2', 'grpc', { p99: [2400, 2601] }),
    run('sluice', 'grpc', { p99: [400, 700], errors: 3 }),
    run('sluice-2', 'grpc', { p99: [900, 2000] }),
  ];
  const one = latencyCheck(runs, 'sluice-mesh', 'one proxy, mesh path', 'grpc', 1000);
  assert.equal(one.name, 'gRPC unary p99 added over direct in the same round, one proxy, mesh path (sluice-mesh), 1k and 5k req/s, 0 errors');
  assert.deepEqual([one.limit, one.value, one.pass], ['≤ 1 ms', '1k: +900 µs, 5k: +1,100 µs', false]);
  const two = latencyCheck(runs, 'sluice-mesh-2', 'two proxies, mesh path', 'grpc', 2000);
  assert.deepEqual([two.limit, two.value, two.pass], ['≤ 2 ms', '1k: +1,900 µs, 5k: +2,001 µs', false]);
  // Faster than direct at 1k, but errors fail the check.
  const errs = latencyCheck(runs, 'sluice', 'one proxy', 'grpc', 1000);
  assert.deepEqual([errs.value, errs.pass], ['1k: −100 µs, 5k: +100 µs, 3 errors', false]);
  assert.equal(latencyCheck(runs, 'sluice-2', 'two proxies', 'grpc', 2000).pass, true);
  // HAProxy's own figures (one, or two chained) stand beside it when measured, then the Node floor's
  // (bare Node pipes, one or two chained); the verdict is the limit's.
  const withPeers = [...runs, run('haproxy', 'grpc', { p99: [1500, 1100] }), run('haproxy-2', 'grpc', { p99: [2600, 2000] })];
  assert.deepEqual(
    [latencyCheck(withPeers, 'sluice-mesh', 'one proxy, mesh path', 'grpc', 1000).value, latencyCheck(withPeers, 'sluice-mesh-2', 'two proxies, mesh path', 'grpc', 2000).value],
    ['1k: +900 µs, 5k: +1,100 µs (haproxy, same rounds: 1k: +1,000 µs, 5k: +500 µs)', '1k: +1,900 µs, 5k: +2,001 µs (haproxy-2, same rounds: 1k: +2,100 µs, 5k: +1,400 µs)'],
  );
  const withFloor = [...withPeers, run('node-tcp-pipe', 'grpc', { p99: [900, 800] }), run('node-tcp-pipe-2', 'grpc', { p99: [1800, 1600] })];
  assert.equal(
    latencyCheck(withFloor, 'sluice-mesh', 'one proxy, mesh path', 'grpc', 1000).value,
    '1k: +900 µs, 5k: +1,100 µs (haproxy, same rounds: 1k: +1,000 µs, 5k: +500 µs) (node-tcp-pipe, same rounds: 1k: +400 µs, 5k: +200 µs)',
  );
  // The mTLS rows' floor has a mutual-TLS hop between its two pipes.
  const withTlsFloor = [...withFloor, run('sluice-mesh-2-mtls', 'grpc', { p99: [2700, 3000] }), run('node-tls-pipe-2', 'grpc', { p99: [2000, 2200] })];
  assert.equal(
    latencyCheck(withTlsFloor, 'sluice-mesh-2-mtls', 'two proxies with mTLS', 'grpc', 2000, [1000]).value,
    '1k: +2,200 µs (haproxy-2, same rounds: 1k: +2,100 µs, 5k: +1,400 µs) (node-tls-pipe-2, same rounds: 1k: +1,500 µs, 5k: +1,600 µs)',
  );
  assert.equal(
    latencyCheck(withFloor, 'sluice-mesh-2', 'two proxies, mesh path', 'grpc', 2000).value,
    '1k: +1,900 µs, 5k: +2,001 µs (haproxy-2, same rounds: 1k: +2,100 µs, 5k: +1,400 µs) (node-tcp-pipe-2, same rounds: 1k: +1,300 µs, 5k: +1,000 µs)',
  );
  // Every Sluice chain and protocol gets its row.
  const names = computeChecks(runs).filter((c) => c.name.includes('p99 added')).map((c) => c.name);
  assert.equal(names.length, 3 * 4);
});

test('p99 added: a missing rate is "not measured" unless a measured one already fails', () => {
  const direct = run('direct', 'h1', { p99: [500, 600] });
  const onlyOne = { ...run('sluice', 'h1', { p99: [700, 0] }), fixed: [fixed('h1', 1000, 700)] };
  assert.deepEqual(latencyCheck([direct, onlyOne], 'sluice', 'one proxy', 'h1', 1000).pass, null);
  const slowOne = { ...onlyOne, fixed: [fixed('h1', 1000, 5000)] };
  const c = latencyCheck([direct, slowOne], 'sluice', 'one proxy', 'h1', 1000);
  assert.deepEqual([c.value, c.pass], ['1k: +4,500 µs, 5k: not measured', false]);
  assert.equal(latencyCheck([direct], 'sluice', 'one proxy', 'h1', 1000).value, 'not measured');
  const failed: RunResult = { target: 'sluice', protocol: 'h1', ok: false, error: 'x', memory: [], fixed: [], notes: [] };
  assert.equal(latencyCheck([direct, failed], 'sluice', 'one proxy', 'h1', 1000).pass, null);
});

test('p99 added in rounds: against direct\'s run of the same round, every round shown, errors of every round counted', () => {
  // Two rounds at each rate; the core is 1.8× slower in round 2 (backend 54 → 98 µs/req), so direct too
  // is slower there. Direct's own kept run is its round-2 one (the higher p99 of two).
  const at = (p99: number, backendUs: number, rate: number, errors = 0): OpenLoopResult => ({ ...fixed('h1', rate, p99, errors), backendCpuUsPerRequest: backendUs });
  const directRounds = { 1000: [at(400, 54, 1000), at(900, 98, 1000)], 5000: [at(500, 54, 5000), at(1000, 98, 5000)] };
  const inRounds = (target: string, mine: Record<1000 | 5000, OpenLoopResult[]>): RunResult => ({
    ...run(target, 'h1', {}),
    fixed: ([1000, 5000] as const).map((rate) => keepRound(mine[rate], target === 'direct' ? undefined : directRounds[rate]) as OpenLoopResult),
  });
  const runs = [
    inRounds('direct', directRounds),
    // At 1k: round 1 1,000 − 400 = +600, round 2 1,600 − 900 = +700; the worse of two is kept.
    inRounds('sluice', { 1000: [at(1000, 54, 1000), at(1600, 98, 1000)], 5000: [at(1100, 54, 5000, 2), at(1200, 98, 5000)] }),
  ];
  const c = latencyCheck(runs, 'sluice', 'one proxy', 'h1', 1000);
  assert.equal(c.name, 'HTTP/1.1 p99 added over direct in the same round, one proxy (sluice), 1k and 5k req/s, 0 errors');
  // 1k: rounds +600 / +700, round 2 kept (+700), though against direct's kept run (900) round 1 would read +100.
  // 5k: rounds +600 / +200, round 1 kept (+600); its 2 errors fail the check even had round 2 been kept.
  assert.deepEqual([c.value, c.pass], ['1k: +700 µs (rounds +600 µs / +700 µs), 5k: +600 µs (rounds +600 µs / +200 µs), 2 errors', false]);
  assert.equal(errorsAt(runs[1], 5000), 2);
  assert.equal(p99Added(runs, 'sluice', 'h1', 1000), 700);
  // Results from before rounds (no sameRoundDirect) are compared with direct's kept run, as before.
  const old = { ...run('sluice', 'h1', {}), fixed: [at(1600, 98, 1000)] };
  assert.equal(p99Added([runs[0] as RunResult, old], 'sluice', 'h1', 1000), 700);
});

test('p99 added in rounds with freeze sentinels: each round outside freezes, all requests of the kept round beside', () => {
  const split = (p99: number, outside: number): OpenLoopResult => {
    const f = fixed('h1', 1000, p99);
    return { ...f, outsideFreezes: { latency: { ...f.latency, p99: outside }, touched: 20, freezes: 5, frozenMs: 30 } };
  };
  const direct = [split(3000, 400), split(2500, 450)];
  const runs = [
    { ...run('direct', 'h1', {}), fixed: [keepRound(direct) as OpenLoopResult] },
    { ...run('sluice', 'h1', {}), fixed: [keepRound([split(6000, 1673), split(5000, 1510)], direct) as OpenLoopResult] },
  ];
  const c = latencyCheck(runs, 'sluice', 'one proxy', 'h1', 1000, [1000]);
  assert.equal(c.value, '1k: +1,273 µs (rounds +1,273 µs / +1,060 µs; all requests: +3,000 µs)');
});

test('memory: idle 62 MB with 0 workers, 75 MB with 1; 120 MB after every saturation run, per protocol', () => {
  const by = byName([
    run('sluice-w0', 'h1', { idleMb: [61] }),
    run('sluice-w0', 'h2c', { idleMb: [63] }),
    run('sluice', 'h1', { idleMb: [76], idleSettledMb: [72], afterSatMb: [100] }),
    run('sluice-mesh-2', 'h1', { idleMb: [80, 78], afterSatMb: [110, 121] }),
    run('haproxy', 'h1', { idleMb: [15], afterSatMb: [500] }),
  ]);
  // The highest of the target's runs counts.
  assert.deepEqual([by('idle resident memory, SLUICE_PROXY_WORKERS=0').value, by('idle resident memory, SLUICE_PROXY_WORKERS=0').pass], ['63.0 MB', false]);
  // The settled reading counts where it was taken (76 MB a second after start-up, 72 MB settled).
  assert.deepEqual([by('idle resident memory, 1 worker').value, by('idle resident memory, 1 worker').pass], ['72.0 MB', true]);
  // Any proxy of any Sluice chain (B of the mesh chain here); peers do not count.
  assert.deepEqual([by('resident memory after the HTTP/1.1').value, by('resident memory after the HTTP/1.1').pass], ['121.0 MB (sluice-mesh-2)', false]);
  assert.equal(by('resident memory after the h2c').pass, true);
  assert.equal(by('resident memory after the gRPC').pass, null);
});
