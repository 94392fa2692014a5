import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addedWithAll, computeChecks, p99Added } from './checks.ts';
import { keepRound } from './rounds.ts';
import { checksTable, controllerTable, fmtRate, protocolTable, renderMarkdown } from './report-md.ts';
import type { MeshIngestResult } from './mesh-ingest.ts';
import { escapeXml, latencyLabel, ninesLabel, renderLatencySvg } from './report-svg.ts';
import type { OpenLoopResult, PerfReport, Protocol, RunResult } from './types.ts';

function fixed(rate: number, p99: number): OpenLoopResult {
  return {
    protocol: 'h1',
    rate,
    seconds: 5,
    connections: 32,
    scheduled: rate * 5,
    ok: rate * 5,
    errors: 0,
    achievedRate: rate,
    sendLagUs: { p99: 10, max: 50 },
    latency: { count: rate * 5, p50: 100, p90: 150, p99, p999: p99 * 2, max: p99 * 3, mean: 110 },
    curve: [
      [0, 50],
      [90, 150],
      [99, p99],
      [99.9, p99 * 2],
    ],
  };
}

function run(target: string, protocol: Protocol, p99: number, cpuUs: number | null, rps: number, idleMb: number): RunResult {
  return {
    target,
    protocol,
    ok: true,
    memory: target === 'direct' ? [] : [{ idle: idleMb * 1e6, afterSaturation: idleMb * 2e6, peak: idleMb * 2.5e6, end: idleMb * 2e6 }],
    saturation: {
      tool: protocol === 'h1' ? 'autocannon' : 'h2load',
      seconds: 4,
      connections: 32,
      streams: 1,
      requests: rps * 4,
      errors: 0,
      rps,
      proxyCpuSeconds: cpuUs === null ? null : (cpuUs * rps * 4) / 1e6,
      proxyCpuUsPerRequest: cpuUs,
      backendCpuUsPerRequest: 20,
    },
    fixed: [fixed(1000, p99), fixed(5000, p99 + 100)],
    notes: [],
  };
}

const runs: RunResult[] = [
  run('direct', 'h1', 300, null, 30000, 0),
  run('sluice', 'h1', 900, 10, 12000, 60),
  run('haproxy', 'h1', 500, 6, 20000, 15),
  run('direct', 'grpc', 400, null, 20000, 0),
  run('sluice', 'grpc', 2000, 30, 5000, 60),
  run('sluice-w0', 'h1', 800, 11, 11000, 45),
  { target: 'nginx', protocol: 'h1', ok: false, error: 'nginx exited (1): bind | failed', memory: [], fixed: [], notes: [] },
];

const MACHINE: PerfReport['machine'] = {
  date: '2026-11-22T00:00:00.000Z',
  host: 'h',
  kernel: '6.1',
  cpuModel: 'CPU',
  cores: 2,
  memoryGiB: 24,
  node: 'v24.21.0',
  gitCommit: '0123456789abcdef0123456789abcdef01234567',
  gitDirty: true,
  tools: { haproxy: '2.6.12' },
};

test('p99 added is measured against direct at the same protocol and rate', () => {
  assert.equal(p99Added(runs, 'sluice', 'h1', 1000), 600);
  assert.equal(p99Added(runs, 'sluice', 'grpc', 5000), 1600);
  assert.equal(p99Added(runs, 'sluice', 'h2c', 1000), null);
  assert.equal(p99Added(runs, 'nginx', 'h1', 1000), null);
});

test('with freeze sentinels on both sides, p99 added compares the requests no core freeze touched', () => {
  const split = (r: RunResult, p99: number): RunResult => ({
    ...r,
    fixed: r.fixed.map((f) => ({ ...f, outsideFreezes: { latency: { ...f.latency, p99 }, touched: 12, freezes: 4, frozenMs: 22 } })),
  });
  const withSplit = [split(runs[0] as RunResult, 250), split(runs[1] as RunResult, 650), runs[2] as RunResult];
  assert.equal(p99Added(withSplit, 'sluice', 'h1', 1000), 400, 'both split: outside freezes');
  assert.equal(p99Added(withSplit, 'sluice', 'h1', 1000, 'all'), 600);
  assert.equal(p99Added(withSplit, 'haproxy', 'h1', 1000), 200, 'one side without a split: all requests on both');
  assert.equal(addedWithAll(withSplit, 'sluice', 'h1', 1000, String), '400 (all requests: 600)');
  assert.equal(addedWithAll(withSplit, 'haproxy', 'h1', 1000, String), '200');
});

test("kdamond windows are reported but not left out of p99 added: that stays the freeze split's", () => {
  const split = (r: RunResult, p99: number, quietP99: number): RunResult => ({
    ...r,
    fixed: r.fixed.map((f) => ({
      ...f,
      outsideFreezes: { latency: { ...f.latency, p99 }, touched: 12, freezes: 4, frozenMs: 22, housekeeping: { windows: 30, ms: 200, touched: 90, p99: quietP99 } },
    })),
  });
  const withWindows = [split(runs[0] as RunResult, 250, 100), split(runs[1] as RunResult, 650, 120), runs[2] as RunResult];
  assert.equal(p99Added(withWindows, 'sluice', 'h1', 1000), 400);
  const md = renderMarkdown(
    { machine: MACHINE, settings: {}, skipped: [], runs: withWindows, checks: computeChecks(withWindows), durationSeconds: 1 },
    [1000, 5000],
  );
  assert.match(md, /The sentinels also saw [\d,]+ windows \([\d,]+ ms\) in which the kernel's DAMON thread/);
  assert.match(md, /Those are \*not\* left out of p99 added/);
});

test('target checks pass, fail, or say not measured', () => {
  const c = computeChecks(runs);
  const by = (prefix: string) => c.find((x) => x.name.startsWith(prefix));
  assert.equal(by('HTTP/1.1 CPU per request, forward-address path (sluice)')?.pass, true);
  assert.match(by('HTTP/1.1 CPU per request, forward-address path')?.value ?? '', /^1\.67× \(10\.0 vs 6\.0 µs; 1\.67× as measured; backend 20\.0 vs 20\.0 µs\/req in the same runs\)$/);
  assert.equal(by('HTTP/1.1 CPU per request, mesh path (sluice-mesh)')?.pass, null);
  assert.equal(by('h2c CPU per request, forward-address path')?.pass, null);
  assert.equal(by('HTTP/1.1 saturation, forward-address path')?.pass, true);
  assert.match(by('HTTP/1.1 saturation, forward-address path')?.value ?? '', /0\.60×/);
  assert.equal(by('HTTP/1.1 p99 added over direct in the same round, one proxy, forward-address path (sluice)')?.pass, true);
  assert.equal(by('gRPC unary p99 added over direct in the same round, one proxy, forward-address path (sluice)')?.pass, false);
  assert.equal(by('idle resident memory, 1 worker')?.pass, true);
  assert.equal(by('idle resident memory, SLUICE_PROXY_WORKERS=0')?.pass, true);
  assert.equal(by('resident memory after the HTTP/1.1 saturation run')?.value, '120.0 MB (sluice)');
});

test('markdown table: one row per target, failures shown, pipes escaped', () => {
  const t = protocolTable(runs, 'h1', [1000, 5000]);
  const lines = t.split('\n');
  assert.equal(lines.length, 2 + 5);
  const header = lines[0] ?? '';
  assert.match(header, /@1k\/s p50 \/ p99 \/ p99\.9 µs/);
  const cols = header.split('|').length;
  for (const l of lines) assert.equal(l.split('|').length, cols, l);
  assert.match(t, /\| sluice \| 12,000 \| 10\.0 \| 20\.0 \| 60\.0 \| 120\.0 \| 150\.0 \| 100 \/ 900 \/ 1,800 \| \+600 \|/);
  assert.match(t, /nginx \| failed: nginx exited \(1\): bind \/ failed/);
  assert.match(checksTable(computeChecks(runs)), /\| ✓ \|/);
  assert.equal(fmtRate(5000), '5k');
  assert.equal(fmtRate(2500), '2500');
});

test('markdown table in rounds: p99 added against direct of the same round, every round in brackets, errors of every round', () => {
  // Direct's kept run at 1k is round 2 (p99 700); sluice's kept run is round 1, beside direct's round-1 run (p99 300).
  const directRounds = [fixed(1000, 300), fixed(1000, 700)];
  const sluiceRounds = [fixed(1000, 1200), { ...fixed(1000, 1000), errors: 4 }];
  const inRounds: RunResult[] = [
    { ...run('direct', 'h1', 0, null, 30000, 0), fixed: [keepRound(directRounds) as OpenLoopResult] },
    { ...run('sluice', 'h1', 0, 10, 12000, 60), fixed: [keepRound(sluiceRounds, directRounds) as OpenLoopResult] },
  ];
  const t = protocolTable(inRounds, 'h1', [1000]);
  assert.match(t, /\| direct \| 30,000 \| – \| 20\.0 \| – \| – \| – \| 100 \/ 700 \/ 1,400 \| – \| 0 \|/);
  // Round 1: 1,200 − 300 = +900; round 2: 1,000 − 700 = +300; the worse (round 1) kept.
  assert.match(t, /\| sluice \| 12,000 \| 10\.0 \| 20\.0 \| 60\.0 \| 120\.0 \| 150\.0 \| 100 \/ 1,200 \/ 2,400 \| \+900 \(rounds \+900 \/ \+300\) \| 4 \|/);
});

test("mesh rows show the controller's CPU apart from the proxy's", () => {
  const mesh = run('sluice-mesh', 'h1', 950, 12, 11000, 70);
  if (mesh.saturation !== undefined) mesh.saturation.controllerCpuUsPerRequest = 0.421;
  const t = protocolTable([...runs, mesh], 'h1', [1000]);
  assert.match(t, /\| sluice-mesh \| 11,000 \| 12\.0 \(\+ controller 0\.42\) \| 20\.0 \| 70\.0 \|/);
  assert.match(t, /\| sluice \| 12,000 \| 10\.0 \| 20\.0 \| 60\.0 \|/);
});

test('the whole markdown page names machine, commit and skipped targets', () => {
  const report: PerfReport = {
    machine: MACHINE,
    settings: {},
    skipped: [{ target: 'nginx', reason: 'nginx is not installed' }],
    runs,
    checks: computeChecks(runs),
    durationSeconds: 100,
  };
  const md = renderMarkdown(report, [1000, 5000]);
  assert.match(md, /`0123456789ab` \(work tree had changes\)/);
  assert.match(md, /\*\*Skipped:\*\* nginx \(nginx is not installed\)/);
  assert.match(md, /## HTTP\/1\.1 keep-alive/);
  assert.match(md, /!\[latency by percentile\]\(latency-grpc\.svg\)/);
});

test('SVG: well-formed enough, one path per series, labels', () => {
  const svg = renderLatencySvg('a <title> & more', [
    { title: 'at 1,000 req/s', series: [{ name: 'direct', curve: fixed(1000, 300).curve }, { name: 'sluice', curve: fixed(1000, 900).curve }] },
    { title: 'at 5,000 req/s', series: [{ name: 'direct', curve: fixed(5000, 400).curve }] },
  ]);
  assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
  assert.ok(svg.trimEnd().endsWith('</svg>'));
  assert.equal((svg.match(/<path /g) ?? []).length, 3);
  assert.ok(svg.includes('a &lt;title&gt; &amp; more'));
  assert.ok(!/NaN|Infinity|undefined/.test(svg));
  assert.equal((svg.match(/<g /g) ?? []).length, (svg.match(/<\/g>/g) ?? []).length);
  assert.ok(svg.includes('>99.9%<'));
  assert.ok(svg.includes('>1 ms<'));
});

test('SVG with no data still renders', () => {
  const svg = renderLatencySvg('empty', [{ title: 'none', series: [] }]);
  assert.ok(!/NaN|Infinity/.test(svg));
});

test('axis labels', () => {
  assert.equal(ninesLabel(0), '0%');
  assert.equal(ninesLabel(1), '90%');
  assert.equal(ninesLabel(2), '99%');
  assert.equal(ninesLabel(3), '99.9%');
  assert.equal(ninesLabel(5), '99.999%');
  assert.equal(latencyLabel(10), '10 µs');
  assert.equal(latencyLabel(1000), '1 ms');
  assert.equal(latencyLabel(1e6), '1 s');
  assert.equal(escapeXml('"<&>"'), '&quot;&lt;&amp;&gt;&quot;');
});

test('the controller table says how the mesh sent its reports, and shows the run kept for comparison', () => {
  const mesh = (transport: 'stream' | 'unary', cpu: number): MeshIngestResult => ({
    proxies: 2000,
    intervalMs: 5000,
    seconds: 15,
    batched: true,
    transport,
    ...(transport === 'stream' ? { streams: 2000 } : {}),
    connections: 4,
    reportsPerSecond: 400,
    targetReportsPerSecond: 400,
    errors: 0,
    cpuPercentOfCore: cpu,
    cpuUsPerReport: cpu * 25,
    reportBytes: [3000, 2000],
    statMs: { p50: 20, max: 30, rows: 200 },
    rssBytes: 500e6,
    storeKeys: 46000,
    storeBytes: 140e6,
  });
  const stream = mesh('stream', 16.2);
  const unary = mesh('unary', 27.9);
  const table = controllerTable({ ok: true, streams: 1000, channels: 10, endpoints: 3, rssIdle: 0, rssWithStreams: 0, bytesPerStream: 0, allSubscribedMs: 0, propagation: [], mesh: stream, meshRuns: [unary, stream] });
  assert.match(table, /messages on 2,000 ReportStream streams \(both directions in one\) answered \/ asked/);
  assert.match(table, /\| mesh: controller CPU while ingesting \| 16\.2 % of a core/);
  assert.match(table, /\| mesh, reports as unary Report calls \(for comparison, same controller\): controller CPU \| 27\.9 % of a core \(698 µs\/report/);
});
