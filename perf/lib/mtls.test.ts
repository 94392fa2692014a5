// The pure parts of the mTLS figures: the checks against issue 8's targets, the "mTLS" section of
// latest.md, and the proof from the proxies' metrics that the hop was mTLS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mtlsChecks } from './checks.ts';
import { meshTlsProblem } from './mtls-path.ts';
import { renderMarkdown } from './report-md.ts';
import { handshakeTable, mtlsSection, mtlsWarmTable } from './report-mtls.ts';
import { fixed } from './results.testkit.ts';
import type { HandshakeResult, HandshakeRun, OpenLoopResult, PerfReport, Protocol, RunResult } from './types.ts';


function run(target: string, protocol: Protocol, cpu: number | null, p99: [number, number], errors = 0): RunResult {
  return {
    target,
    protocol,
    ok: true,
    memory: target === 'direct' ? [] : [{ idle: 80e6, afterSaturation: 95e6, peak: 96e6, end: 90e6 }, { idle: 79e6, afterSaturation: 94e6, peak: 95e6, end: 90e6 }],
    saturation: {
      tool: protocol === 'h1' ? 'autocannon' : 'h2load',
      seconds: 3,
      connections: 4,
      streams: 32,
      requests: 30_000,
      errors: 0,
      rps: 10_000,
      proxyCpuSeconds: cpu === null ? null : (cpu * 30_000) / 1e6,
      proxyCpuUsPerRequest: cpu,
      backendCpuUsPerRequest: 10,
    },
    fixed: [fixed(protocol, 1000, p99[0], errors), fixed(protocol, 5000, p99[1])],
    notes: [],
  };
}

function handshakeRun(mode: HandshakeRun['mode'], cpu: number, connections: number, resumed: number): HandshakeRun {
  return {
    mode,
    concurrency: 8,
    seconds: 3,
    connections,
    errors: 0,
    resumed,
    perSecond: connections / 3,
    proxyCpuUsPerConnection: cpu,
    clientCpuUsPerConnection: cpu * 0.8,
    latencyUs: { p50: 900, p99: 4000, max: 9000 },
  };
}

const handshakes: HandshakeResult = {
  ok: true,
  runs: [handshakeRun('plain', 100, 9000, 0), handshakeRun('tls-full', 450, 3000, 0), handshakeRun('tls-resumed', 250, 4500, 4500)],
  notes: [],
};

const runs: RunResult[] = [
  run('direct', 'h1', null, [300, 400]),
  run('sluice-mesh-2', 'h1', 40, [900, 1200]),
  run('sluice-mesh-2-mtls', 'h1', 50, [1100, 1500]),
  run('direct', 'h2c', null, [300, 400]),
  run('sluice-mesh-2', 'h2c', 20, [700, 900]),
  run('sluice-mesh-2-mtls', 'h2c', 27, [2400, 3000]),
  run('direct', 'grpc', null, [300, 400]),
  run('sluice-mesh-2-mtls', 'grpc', 30, [800, 900], 2),
];

test('mTLS CPU per request over plaintext: the same two-proxy chain without identities, ≤ 1.3× per protocol', () => {
  const checks = mtlsChecks(runs, handshakes);
  const by = (prefix: string) => checks.find((c) => c.name.startsWith(prefix));
  assert.deepEqual(by('HTTP/1.1 mTLS CPU per request'), {
    name: 'HTTP/1.1 mTLS CPU per request over plaintext, two proxies (sluice-mesh-2-mtls vs sluice-mesh-2), at equal core speed',
    limit: '≤ 1.3×',
    value: '1.25× (50.0 vs 40.0 µs; 1.25× as measured; backend 10.0 vs 10.0 µs/req in the same runs)',
    pass: true,
  });
  assert.deepEqual([by('h2c mTLS CPU')?.value, by('h2c mTLS CPU')?.pass], ['1.35× (27.0 vs 20.0 µs; 1.35× as measured; backend 10.0 vs 10.0 µs/req in the same runs)', false]);
  // No plaintext twin in the run: nothing to compare with.
  assert.deepEqual([by('gRPC unary mTLS CPU')?.value, by('gRPC unary mTLS CPU')?.pass], ['not measured', null]);
});

test('p99 added through two proxies with mTLS: ≤ 2 ms at 1k req/s only, with 0 errors', () => {
  const checks = mtlsChecks(runs, handshakes);
  const by = (p: string) => checks.find((c) => c.name.startsWith(`${p} p99 added over direct in the same round, two proxies with mTLS`));
  assert.equal(by('HTTP/1.1')?.name, 'HTTP/1.1 p99 added over direct in the same round, two proxies with mTLS (sluice-mesh-2-mtls), 1k req/s, 0 errors');
  assert.deepEqual([by('HTTP/1.1')?.limit, by('HTTP/1.1')?.value, by('HTTP/1.1')?.pass], ['≤ 2 ms', '1k: +800 µs', true]);
  // 5k is over 2 ms but is not part of this target; 1k is over too here.
  assert.deepEqual([by('h2c')?.value, by('h2c')?.pass], ['1k: +2,100 µs', false]);
  assert.deepEqual([by('gRPC unary')?.value, by('gRPC unary')?.pass], ['1k: +500 µs, 2 errors', false]);
});

test('session reuse: every offered ticket resumed passes; fewer fails; no handshake run is not measured', () => {
  const last = (h: HandshakeResult | undefined) => mtlsChecks([], h).at(-1);
  assert.deepEqual([last(handshakes)?.value, last(handshakes)?.pass], ['100.0 % (4500 of 4500)', true]);
  const partial = { ...handshakes, runs: [handshakeRun('tls-resumed', 250, 4000, 3000)] };
  assert.deepEqual([last(partial)?.value, last(partial)?.pass], ['75.0 % (3000 of 4000)', false]);
  assert.equal(last(undefined)?.pass, null);
  assert.equal(last({ ok: false, error: 'x', runs: [], notes: [] })?.pass, null);
});

test('warm table: plaintext and mTLS side by side per protocol, the ratio, p99 added at each rate', () => {
  const t = mtlsWarmTable(runs, [1000, 5000]);
  const lines = t.split('\n');
  const cols = (lines[0] ?? '').split('|').length;
  for (const l of lines) assert.equal(l.split('|').length, cols, l);
  assert.match(t, /\| HTTP\/1\.1 keep-alive \| 40\.0 \/ 50\.0 \| 1\.25× \| 10,000 \/ 10,000 \| \+600 \/ \+800 \| \+800 \/ \+1,100 \| 95\.0 \+ 94\.0 \/ 95\.0 \+ 94\.0 \| 0 \|/);
  // gRPC ran only with mTLS: the plaintext side says so with dashes.
  assert.match(t, /\| gRPC unary \(over h2c\) \| – \/ 30\.0 \| – \| – \/ 10,000 \| – \/ \+500 \|/);
  const failed: RunResult = { target: 'sluice-mesh-2-mtls', protocol: 'h1', ok: false, error: 'the hop | is not mTLS', memory: [], fixed: [], notes: [] };
  assert.match(mtlsWarmTable([failed], [1000]), /sluice-mesh-2-mtls failed: the hop \/ is not mTLS/);
});

test('handshake table: connections/s, inbound CPU per connection and its ratio to plaintext, resumed counts', () => {
  const t = handshakeTable(handshakes);
  assert.match(t, /\| plaintext TCP \| 3,000 \| 100 \| 1\.00× \| 80 \| 900 \/ 4,000 \| – \| 0 \|/);
  assert.match(t, /\| mTLS, full handshake \| 1,000 \| 450 \| 4\.50× \|/);
  assert.match(t, /\| mTLS, resumed \(session ticket\) \| 1,500 \| 250 \| 2\.50× \| 200 \| 900 \/ 4,000 \| 4,500 of 4,500 \| 0 \|/);
  assert.match(handshakeTable({ ok: false, error: 'B did not\nstart', runs: [], notes: [] }), /^Handshake benchmark failed: B did not start$/);
});

test('latest.md gets an mTLS section only when the mTLS target or the handshakes ran', () => {
  assert.deepEqual(mtlsSection([run('direct', 'h1', null, [1, 2])], undefined, [1000]), []);
  const report: PerfReport = {
    machine: { date: '2026-12-05T00:00:00.000Z', host: 'h', kernel: '6.1', cpuModel: 'CPU', cores: 2, memoryGiB: 8, node: 'v24', gitCommit: '0'.repeat(40), gitDirty: false, tools: {} },
    settings: {},
    skipped: [],
    runs,
    handshakes: { ...handshakes, notes: ['tls-resumed: the inbound proxy resumed 1 of 2 sessions offered'] },
    checks: mtlsChecks(runs, handshakes),
    durationSeconds: 10,
  };
  const md = renderMarkdown(report, [1000, 5000]);
  assert.match(md, /\n## mTLS\n/);
  assert.match(md, /\| mTLS, full handshake \|/);
  assert.match(md, /- tls-resumed: the inbound proxy resumed 1 of 2 sessions offered/);
  assert.ok(md.indexOf('## mTLS') > md.indexOf('## gRPC unary'), 'after the protocol tables');
});

const A = 'perf-client.perf.serviceaccount.identity.sluice.cluster.local';
const B = 'backend.perf.serviceaccount.identity.sluice.cluster.local';
const want = { endpoint: '127.0.0.1:4143', serverId: B, clientId: A };
const out = (tls: string, n: number) =>
  `request_total{direction="outbound",authority="backend.perf.svc.cluster.local:80",target_addr="127.0.0.1:4143",${tls}} ${n}\n` +
  `tcp_open_total{direction="outbound",peer="dst",target_addr="127.0.0.1:4143",${tls}} 4\n`;
const inbound = (tls: string, n: number) => `request_total{direction="inbound",authority="backend.perf.svc.cluster.local:80",${tls}} ${n}\n`;

test('the hop is mTLS when A sent everything to B in TLS to its identity and B received it from A', () => {
  assert.equal(meshTlsProblem(out(`tls="true",server_id="${B}"`, 100), inbound(`tls="true",client_id="${A}"`, 100), want), null);
});

test('a plaintext hop, a partly plaintext one or a wrong peer fails the target, saying why', () => {
  assert.match(meshTlsProblem(out('tls="disabled"', 100), inbound('tls="disabled"', 100), want) ?? '', /only 0 of the 100 .*tls="disabled": proxy A has no identity/);
  const mixed = out(`tls="true",server_id="${B}"`, 60) + out('tls="no_identity",no_tls_reason="not_provided_by_service_discovery"', 40);
  assert.match(meshTlsProblem(mixed, inbound(`tls="true",client_id="${A}"`, 60), want) ?? '', /only 60 of the 100/);
  assert.match(meshTlsProblem(out(`tls="true",server_id="other.perf"`, 100), '', want) ?? '', /only 0 of the 100/);
  assert.match(meshTlsProblem(out(`tls="true",server_id="${B}"`, 100), inbound('tls="true"', 100), want) ?? '', /only 0 of the 100 inbound requests of proxy B came in mTLS/);
  assert.match(meshTlsProblem('', '', want) ?? '', /no outbound requests to 127\.0\.0\.1:4143/);
  assert.match(meshTlsProblem(out(`tls="true",server_id="${B}"`, 100), '', want) ?? '', /proxy B counted no inbound requests/);
});
