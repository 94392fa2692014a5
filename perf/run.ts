// `npm run perf`: load side by side, in one run — direct to the backend, through one Sluice proxy, two
// proxies (outbound → inbound, as in a mesh), Sluice with no worker thread, HAProxy and nginx when
// installed, and three naive Node proxies as yardsticks — over HTTP/1.1 keep-alive, h2c and gRPC unary.
// Per protocol, each target is started, its idle memory read and its saturation runs made (requests/s and
// proxy CPU per request), and it is left running; then the fixed request rates with the open-loop generator
// (latency percentiles) in rounds over all targets, so each target's p99 is compared with direct's run
// of the same round; then memory again, and the targets stop.
// Writes perf/results/latest.json, latest.md and latency-<protocol>.svg. See docs/performance.md.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { USAGE, parseArgs } from './lib/args.ts';
import { machineInfo } from './lib/machine.ts';
import type { PerfOptions } from './lib/args.ts';
import { computeChecks, controllerChecks, mtlsChecks } from './lib/checks.ts';
import { fixedPhase } from './lib/fixed-phase.ts';
import { HOST, freePort } from './lib/net.ts';
import { waitQuiet } from './lib/noise.ts';
import { measureFreezes, type FreezeFigures } from './lib/freezes.ts';
import { waitWorking } from './lib/probe.ts';
import { installCleanupHandlers, pinSelf, start, stop, stopAll, which } from './lib/procs.ts';
import { renderMarkdown, protocolTable, checksTable, controllerTable, fmtInt } from './lib/report-md.ts';
import { mtlsTables } from './lib/report-mtls.ts';
import { renderLatencySvg } from './lib/report-svg.ts';
import { LOAD_CORE, PROXY_CORE, makeBench } from './lib/run-context.ts';
import type { Bench } from './lib/run-context.ts';
import { finishTarget, prepareTarget, stopTarget } from './lib/target-run.ts';
import type { Prepared } from './lib/target-run.ts';
import { PROTOCOL_TITLES } from './lib/types.ts';
import type { PerfReport, Protocol, RunResult } from './lib/types.ts';
import { BACKENDS, TARGETS } from './targets.ts';
import { benchController, defaultControllerOptions } from './controller.ts';
import type { ControllerResult } from './controller.ts';
import { benchHandshakes } from './handshakes.ts';
import type { HandshakeResult } from './lib/types.ts';
import type { Target } from './targets.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** Idle seconds the cores' freezes are measured for, before the first run and after the last. */
const FREEZE_SECONDS = 5;

function log(line: string): void {
  process.stdout.write(`${line}\n`);
}

/**
 * One protocol, every target: each is started, measured idle and at saturation in turn and left running;
 * then the fixed-rate rounds over all of them (lib/fixed-phase.ts); then each one's memory at the end,
 * and it stops. Whatever happens, every target started here and the backend are stopped before returning.
 */
async function measureProtocol(b: Bench, protocol: Protocol, targets: readonly Target[]): Promise<RunResult[]> {
  const results: RunResult[] = [];
  const backendPort = await freePort();
  const backend = start(`backend-${protocol}`, process.execPath, [join(root, 'perf', 'backends', BACKENDS[protocol]), '--port', String(backendPort)], {
    core: b.o.pin ? PROXY_CORE : undefined,
  });
  const prepared: Prepared[] = [];
  try {
    await waitWorking(protocol, backendPort, 10_000, {
      gone: () => (backend.child.exitCode !== null ? `backend exited: ${backend.stderrTail()}` : null),
    });
    for (const t of targets) {
      if (!t.protocols.includes(protocol)) continue;
      const { result, prepared: p } = await prepareTarget(b, t, protocol, backend, backendPort);
      results.push(result);
      if (p !== undefined) prepared.push(p);
    }
    await fixedPhase(b, protocol, backend, prepared);
    for (const p of prepared) await finishTarget(b, p);
  } finally {
    for (const p of prepared) await stopTarget(p);
    await stop(backend);
  }
  return results;
}

async function main(): Promise<void> {
  let o: PerfOptions;
  try {
    o = parseArgs(process.argv.slice(2));
  } catch (err) {
    console.error(String(err instanceof Error ? err.message : err));
    process.exit(2);
  }
  if (o.help) {
    log(USAGE);
    return;
  }
  const began = performance.now();
  // This process too keeps off the proxy core.
  if (o.pin) pinSelf(LOAD_CORE);
  let scratch = '';
  // On Ctrl-C the children are stopped by procs.ts; the scratch directory goes too.
  installCleanupHandlers(() => {
    if (scratch !== '') rmSync(scratch, { recursive: true, force: true });
  });

  const deps = join(root, 'scripts', 'system-deps.sh');
  if (o.installDeps && existsSync(deps)) {
    log('── system packages: bash scripts/system-deps.sh perf');
    spawnSync('bash', [deps, 'perf'], { cwd: root, stdio: 'inherit' });
  }
  if (o.built) {
    log('── build: npm run build (the benchmark runs what the package and the images run)');
    const b = spawnSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit' });
    if (b.status !== 0) {
      console.error('npm run build failed: nothing to measure (or run with --sources)');
      process.exit(1);
    }
    // Inherited by every Sluice process the targets start (bin/entry.js).
    process.env['SLUICE_RUN_BUILT'] = '1';
  }
  if (o.pin && which('taskset') === null) {
    log('taskset is missing: processes will not be pinned to cores (figures will be noisier)');
    o.pin = false;
  }

  const known = new Set(TARGETS.map((t) => t.name));
  for (const name of o.targets ?? []) {
    if (!known.has(name)) {
      console.error(`unknown target '${name}'; known: ${[...known].join(', ')}`);
      process.exit(2);
    }
  }
  const wanted = TARGETS.filter((t) => o.targets === null || o.targets.includes(t.name));
  const skipped: PerfReport['skipped'] = [];
  const usable: Target[] = [];
  for (const t of wanted) {
    const why = t.unavailable(root);
    if (why === null) usable.push(t);
    else skipped.push({ target: t.name, reason: why });
  }
  if (which('h2load') === null && o.protocols.some((p) => p !== 'h1')) {
    skipped.push({ target: 'h2c/gRPC saturation', reason: 'h2load (Debian nghttp2-client) is not installed' });
  }
  for (const s of skipped) log(`SKIPPED ${s.target}: ${s.reason}`);
  log(`targets: ${usable.map((t) => t.name).join(', ')} · protocols: ${o.protocols.join(', ')} · rates: ${o.rates.join(', ')}/s`);

  const machine = machineInfo(root);
  scratch = mkdtempSync(join(tmpdir(), 'sluice-perf-'));
  const runs: RunResult[] = [];
  const freezes = async (): Promise<FreezeFigures[]> => {
    if (!o.pin) return [];
    const found = await Promise.all([PROXY_CORE, LOAD_CORE].map((core) => measureFreezes(root, core, FREEZE_SECONDS)));
    const figures = found.filter((f): f is FreezeFigures => f !== undefined);
    for (const f of figures) log(`core ${f.core} froze ${f.count} times in ${f.seconds} s idle (a spinning thread's clock gaps over ${f.thresholdMs} ms), longest ${f.longestMs.toFixed(1)} ms, ${(f.frozenShare * 100).toFixed(2)} % of the time`);
    return figures;
  };
  const freezesBefore = await freezes();
  let freezesAfter: FreezeFigures[] = [];
  let controller: ControllerResult | undefined;
  let handshakes: HandshakeResult | undefined;
  try {
    const bench = makeBench(o, root, scratch, began);
    for (const protocol of o.protocols) {
      log(`\n── ${PROTOCOL_TITLES[protocol]}`);
      runs.push(...(await measureProtocol(bench, protocol, usable)));
    }
    if (o.handshakes && (o.targets === null || o.targets.includes('sluice-mesh-2-mtls'))) {
      log('\n── mTLS handshakes: new connections into an inbound proxy, one request each');
      handshakes = await benchHandshakes({
        root,
        dir: mkdtempSync(join(scratch, 'handshakes-')),
        proxyCore: o.pin ? PROXY_CORE : undefined,
        loadCore: o.pin ? LOAD_CORE : undefined,
        seconds: o.quick ? 2 : o.saturationSeconds,
        warmupSeconds: o.quick ? 0.5 : 1,
        concurrency: 8,
        quiet: o.quiet,
        log,
      });
    }
    if (o.controller) {
      log('\n── Controller: Destination watch streams and telemetry ingestion');
      await waitQuiet(o.quiet.threshold, o.quiet.maxWaitMs);
      const dir = mkdtempSync(join(scratch, 'controller-'));
      controller = await benchController({ ...defaultControllerOptions(root, dir, o.pin ? PROXY_CORE : undefined, log), meshTransports: o.meshTransports });
    }
    freezesAfter = await freezes();
  } finally {
    await stopAll();
    rmSync(scratch, { recursive: true, force: true });
  }

  const report: PerfReport = {
    machine,
    settings: {
      protocols: o.protocols,
      rates: o.rates,
      rounds: o.rounds,
      fixedSeconds: o.fixedSeconds,
      warmupSeconds: o.warmupSeconds,
      saturationSeconds: o.saturationSeconds,
      openLoopConnections: { h1: o.h1Connections, h2: o.h2Connections },
      saturationConnections: { h1: o.satH1Connections, h2: o.satH2Connections, h2Streams: o.satH2Streams },
      pinned: o.pin ? { proxyAndBackend: PROXY_CORE, loadGenerators: LOAD_CORE } : false,
      quick: o.quick,
      host: HOST,
      built: o.built,
    },
    skipped,
    runs,
    ...(controller === undefined ? {} : { controller }),
    ...(handshakes === undefined ? {} : { handshakes }),
    checks: [...computeChecks(runs), ...mtlsChecks(runs, handshakes), ...controllerChecks(controller)],
    durationSeconds: (performance.now() - began) / 1000,
    ...(freezesBefore.length + freezesAfter.length === 0 ? {} : { freezes: { before: freezesBefore, after: freezesAfter } }),
  };
  const outDir = o.outDir !== null ? resolve(o.outDir) : o.partial ? join(root, 'perf', 'results', 'partial') : join(root, 'perf', 'results');
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(outDir, 'latest.md'), renderMarkdown(report, o.rates));
  for (const p of o.protocols) {
    const panels = o.rates.map((rate) => ({
      title: `${PROTOCOL_TITLES[p]} at ${fmtInt(rate)} req/s`,
      series: runs
        .filter((r) => r.protocol === p && r.ok)
        .flatMap((r) => {
          const f = r.fixed.find((x) => x.rate === rate);
          return f === undefined ? [] : [{ name: r.target, curve: f.curve }];
        }),
    }));
    writeFileSync(
      join(outDir, `latency-${p}.svg`),
      renderLatencySvg(`Latency by percentile (open loop, from the scheduled send time) · ${machine.date.slice(0, 16).replace('T', ' ')} · ${machine.gitCommit.slice(0, 12)}`, panels),
    );
  }

  log('');
  for (const p of o.protocols) log(`## ${PROTOCOL_TITLES[p]}\n\n${protocolTable(runs, p, o.rates)}\n`);
  if (runs.some((r) => r.target === 'sluice-mesh-2-mtls') || handshakes !== undefined) log(`## mTLS\n\n${mtlsTables(runs, handshakes, o.rates)}\n`);
  if (controller !== undefined) log(`## Controller\n\n${controllerTable(controller)}\n`);
  log(`## Target checks\n\n${checksTable(report.checks)}\n`);
  if (skipped.length > 0) log(`Skipped: ${skipped.map((s) => `${s.target} (${s.reason})`).join('; ')}`);
  log(`Wrote ${join(outDir, 'latest.json')}, latest.md and latency-*.svg (${Math.round(report.durationSeconds)} s).`);
}

await main();
