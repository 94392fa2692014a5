// `npm run perf`: load side by side, in one run — direct to the backend, through one Sluice proxy, two
// proxies (outbound → inbound, as in a mesh), Sluice with no worker thread, HAProxy and nginx when
// installed, and three naive Node proxies as yardsticks — over HTTP/1.1 keep-alive, h2c and gRPC unary.
// For each target and protocol: idle memory, a saturation run (requests/s and proxy CPU per request), then
// fixed request rates with the open-loop generator (latency percentiles), then memory again.
// Writes perf/results/latest.json, latest.md and latency-<protocol>.svg. See docs/performance.md.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { USAGE, parseArgs } from './lib/args.ts';
import { machineInfo } from './lib/machine.ts';
import type { PerfOptions } from './lib/args.ts';
import { IDLE_SETTLED_TARGETS, IDLE_SETTLE_MS, computeChecks, controllerChecks, mtlsChecks } from './lib/checks.ts';
import { HOST, freePort } from './lib/net.ts';
import { foreignCores, mark, waitQuiet } from './lib/noise.ts';
import { measureFreezes, startSentinels, type FreezeFigures } from './lib/freezes.ts';
import { waitWorking } from './lib/probe.ts';
import { cpuSeconds, installCleanupHandlers, sleep, start, stop, stopAll, treeCpuSeconds, treeMemory, which } from './lib/procs.ts';
import type { Started } from './lib/procs.ts';
import { renderMarkdown, protocolTable, checksTable, controllerTable, fmtInt, fmtRate } from './lib/report-md.ts';
import { mtlsTables } from './lib/report-mtls.ts';
import { renderLatencySvg } from './lib/report-svg.ts';
import { medianRun, saturate } from './lib/saturation.ts';
import { PROTOCOL_TITLES } from './lib/types.ts';
import type { MemoryFigures, OpenLoopResult, PerfReport, Protocol, RunResult, SaturationResult } from './lib/types.ts';
import { BACKENDS, TARGETS, firstDead } from './targets.ts';
import { benchController, defaultControllerOptions } from './controller.ts';
import type { ControllerResult } from './controller.ts';
import { benchHandshakes } from './handshakes.ts';
import type { HandshakeResult } from './lib/types.ts';
import type { RunningTarget, Target } from './targets.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const PROXY_CORE = 0;
const LOAD_CORE = 1;
/** Other processes using more cores than this during a measured phase get a note in the results. */
const NOISY = 0.25;
/** Idle seconds the cores' freezes are measured for, before the first run and after the last. */
const FREEZE_SECONDS = 5;
/** A fixed-rate run whose generator put its p99 request on the wire later than this (µs) is repeated. */
const LATE_US = 2000;

let began = 0;
/** Past the time budget, disturbed runs are no longer repeated. */
function overBudget(o: PerfOptions): boolean {
  return (performance.now() - began) / 1000 > o.budgetSeconds;
}

function log(line: string): void {
  process.stdout.write(`${line}\n`);
}

/**
 * One fixed-rate run. With pinned cores, a freeze sentinel watches each (perf/lib/freezes.ts) and the
 * result also gives the latency of the requests no freeze of a core held up.
 */
async function openLoop(o: PerfOptions, protocol: Protocol, t: RunningTarget, rate: number, core: number | undefined, scratch: string): Promise<OpenLoopResult> {
  const runSeconds = o.fixedSeconds + o.warmupSeconds + 20;
  const sentinels = o.pin ? startSentinels(root, [PROXY_CORE, LOAD_CORE], scratch, runSeconds + 5) : undefined;
  try {
    return await runGenerator(o, protocol, t, rate, core, runSeconds, sentinels?.files ?? []);
  } finally {
    await sentinels?.stop();
  }
}

function runGenerator(o: PerfOptions, protocol: Protocol, t: RunningTarget, rate: number, core: number | undefined, limitSeconds: number, freezeLogs: readonly string[]): Promise<OpenLoopResult> {
  const args = [
    // One core for the generator: V8's parallel scavenger then fights itself for that core (pauses of
    // several ms); single-threaded GC keeps the generator's own pauses at ~0.2 ms.
    '--single-threaded-gc',
    join(root, 'perf', 'loadgen', 'openloop.ts'),
    '--protocol', protocol,
    '--port', String(t.port),
    ...(t.authority === undefined ? [] : ['--authority', t.authority]),
    '--rate', String(rate),
    '--seconds', String(o.fixedSeconds),
    '--warmup', String(o.warmupSeconds),
    '--connections', String(protocol === 'h1' ? o.h1Connections : o.h2Connections),
    ...(freezeLogs.length === 0 ? [] : ['--freezes', freezeLogs.join(',')]),
  ];
  return new Promise((resolveRun, reject) => {
    let out = '';
    const p = start('openloop', process.execPath, args, { core, onStdout: (c) => (out += c.toString('utf8')) });
    const limit = setTimeout(() => process.kill(p.pid, 'SIGKILL'), limitSeconds * 1000);
    p.exited.then((code) => {
      clearTimeout(limit);
      const line = out.trim().split('\n').pop() ?? '';
      if (code !== 0 || !line.startsWith('{')) reject(new Error(`open-loop generator exited with ${code}: ${p.stderrTail().trim().slice(-800)}`));
      else resolveRun(JSON.parse(line) as OpenLoopResult);
    });
  });
}

function sumCpu(ps: readonly Started[]): number {
  return ps.reduce((s, p) => s + treeCpuSeconds(p.pid), 0);
}

function mem(ps: readonly Started[]): number[] {
  return ps.map((p) => treeMemory(p.pid).rss);
}

async function measure(o: PerfOptions, target: Target, protocol: Protocol, backend: Started, backendPort: number, scratch: string): Promise<RunResult> {
  const result: RunResult = { target: target.name, protocol, ok: false, memory: [], fixed: [], notes: [] };
  const core = o.pin ? PROXY_CORE : undefined;
  const loadCore = o.pin ? LOAD_CORE : undefined;
  const tag = `${protocol} · ${target.name}`;
  const dir = mkdtempSync(join(scratch, `${target.name}-${protocol}-`));
  let t: RunningTarget | undefined;
  const noisy = (what: string, cores: number): void => {
    if (cores > NOISY) result.notes.push(`other processes used ${cores.toFixed(2)} cores during ${what}: figures may be disturbed`);
  };
  try {
    t = await target.start({ protocol, backendPort, core, controlCore: loadCore, root, dir });
    const running = t;
    result.notes.push(...running.notes);
    await waitWorking(protocol, running.port, 20_000, { gone: () => firstDead(running), authority: running.authority });
    await sleep(o.settleMs);
    const idle = mem(running.proxies);
    if (idle.length > 0) log(`${tag}: idle RSS ${idle.map((b) => (b / 1e6).toFixed(1)).join(' + ')} MB`);
    // A second reading for the targets the idle limits name: a second after start-up a Node proxy still
    // holds its start-up garbage and a grown young generation, which V8 collects once it has been idle a
    // few seconds; a sidecar spends its idle life after that.
    let idleSettled: number[] | undefined;
    if (IDLE_SETTLED_TARGETS.includes(target.name)) {
      await sleep(IDLE_SETTLE_MS);
      idleSettled = mem(running.proxies);
      log(`${tag}: idle RSS after ${IDLE_SETTLE_MS / 1000} s more ${idleSettled.map((b) => (b / 1e6).toFixed(1)).join(' + ')} MB`);
    }

    const helpers = running.helpers ?? [];
    const hasTool = protocol === 'h1' || which('h2load') !== null;
    let afterSat: number[] = idle.map(() => 0);
    if (hasTool) {
      const satOpts = {
        protocol,
        port: running.port,
        connections: protocol === 'h1' ? o.satH1Connections : o.satH2Connections,
        streams: o.satH2Streams,
        core: loadCore,
        tmpDir: scratch,
        root,
        authority: running.authority,
      };
      await saturate({ ...satOpts, seconds: o.saturationWarmupSeconds });
      // Before any figure: fails the target if its traffic did not take the path it claims.
      await running.confirmPath?.();
      // o.saturationRuns measured runs, the median kept (by proxy CPU per request); a run disturbed by other
      // processes is run again (o.attempts - 1 times in all at most) and counts only if nothing better came.
      interface Sample {
        sat: SaturationResult;
        foreign: number;
        mem: number[];
      }
      const clean: Sample[] = [];
      const disturbed: Sample[] = [];
      let retries = o.attempts - 1;
      while (clean.length < o.saturationRuns) {
        await waitQuiet(o.quiet.threshold, o.quiet.maxWaitMs);
        const n0 = mark();
        const cpu0 = sumCpu(running.proxies);
        const help0 = sumCpu(helpers);
        const be0 = cpuSeconds(backend.pid);
        const counts = await saturate({ ...satOpts, seconds: o.saturationSeconds });
        const cpu1 = sumCpu(running.proxies);
        const help1 = sumCpu(helpers);
        const be1 = cpuSeconds(backend.pid);
        const foreign = foreignCores(n0, mark());
        const memNow = mem(running.proxies);
        const proxyCpu = running.proxies.length === 0 ? null : cpu1 - cpu0;
        const sat: SaturationResult = {
          tool: counts.tool,
          seconds: counts.seconds,
          connections: satOpts.connections,
          streams: protocol === 'h1' ? 1 : o.satH2Streams,
          requests: counts.requests,
          errors: counts.errors,
          rps: counts.seconds > 0 ? counts.requests / counts.seconds : 0,
          proxyCpuSeconds: proxyCpu,
          proxyCpuUsPerRequest: proxyCpu === null || counts.requests === 0 ? null : (proxyCpu * 1e6) / counts.requests,
          backendCpuUsPerRequest: counts.requests === 0 ? 0 : ((be1 - be0) * 1e6) / counts.requests,
        };
        if (helpers.length > 0 && counts.requests > 0) sat.controllerCpuUsPerRequest = ((help1 - help0) * 1e6) / counts.requests;
        const sample = { sat, foreign, mem: memNow };
        if (foreign <= NOISY) {
          clean.push(sample);
        } else if (retries > 0 && !overBudget(o)) {
          retries--;
          disturbed.push(sample);
          log(`${tag}: saturation disturbed (other processes used ${foreign.toFixed(2)} cores), running it again`);
        } else {
          disturbed.push(sample);
          break;
        }
        if (overBudget(o)) break;
      }
      // Without enough clean runs, the least disturbed ones fill in.
      const pool = clean.length > 0 ? clean : [...disturbed].sort((a, b) => a.foreign - b.foreign).slice(0, 1);
      const kept = medianRun(pool.map((x) => x.sat));
      const best = pool.find((x) => x.sat === kept);
      if (best === undefined) throw new Error('no saturation run');
      if (pool.length > 1) {
        log(
          `${tag}: ${pool.length} saturation runs, proxy CPU µs/req ${pool.map((x) => x.sat.proxyCpuUsPerRequest?.toFixed(1) ?? '–').join(' / ')}, ` +
            `backend µs/req ${pool.map((x) => x.sat.backendCpuUsPerRequest.toFixed(1)).join(' / ')}, requests/s ${pool.map((x) => fmtInt(x.sat.rps)).join(' / ')}: the median at equal core speed kept`,
        );
      }
      const sat = best.sat;
      noisy('the saturation run', best.foreign);
      // Memory at the end of saturation: the higher of right after the kept run and now (after the last run).
      afterSat = mem(running.proxies).map((v, i) => Math.max(v, best?.mem[i] ?? 0));
      if (protocol === 'grpc') sat.note = 'h2load checks the HTTP status only, not grpc-status';
      result.saturation = sat;
      log(
        `${tag}: saturation ${fmtInt(sat.rps)} req/s` +
          (sat.proxyCpuUsPerRequest === null ? '' : `, proxy CPU ${sat.proxyCpuUsPerRequest.toFixed(1)} µs/req`) +
          (sat.controllerCpuUsPerRequest === undefined ? '' : ` (controller ${sat.controllerCpuUsPerRequest.toFixed(2)} µs/req more)`) +
          `, backend ${sat.backendCpuUsPerRequest.toFixed(1)} µs/req, errors ${sat.errors}`,
      );
    } else {
      result.notes.push('h2load is not installed: no saturation run');
      await running.confirmPath?.();
    }

    for (const rate of o.rates) {
      // A run disturbed by other processes on the machine is repeated (up to o.attempts times in all);
      // the least disturbed one is kept.
      let best: { r: OpenLoopResult; foreign: number; score: number } | undefined;
      for (let attempt = 1; attempt <= o.attempts; attempt++) {
        await waitQuiet(o.quiet.threshold, o.quiet.maxWaitMs);
        const n0 = mark();
        const cpu0 = sumCpu(running.proxies);
        const be0 = cpuSeconds(backend.pid);
        const r = await openLoop(o, protocol, running, rate, loadCore, dir);
        const foreign = foreignCores(n0, mark());
        // Proxy CPU per request at this rate (warm-up included): at low rates each request pays its own
        // wake-ups and system calls, which saturation spreads over many. The backend's beside it: the
        // core's speed during the run (see "The core's speed changes" in docs/performance.md).
        const sent = rate * (o.warmupSeconds + o.fixedSeconds);
        if (running.proxies.length > 0) r.proxyCpuUsPerRequest = ((sumCpu(running.proxies) - cpu0) * 1e6) / sent;
        r.backendCpuUsPerRequest = ((cpuSeconds(backend.pid) - be0) * 1e6) / sent;
        // Disturbed: others used the machine, or the generator itself could not keep its schedule.
        const late = r.sendLagUs.p99 > LATE_US;
        const score = foreign + (late ? 1 : 0);
        if (best === undefined || score < best.score) best = { r, foreign, score };
        if ((foreign <= NOISY && !late) || overBudget(o)) break;
        if (attempt < o.attempts) {
          const why = late ? `the generator sent late, send lag p99 ${fmtInt(r.sendLagUs.p99)} µs` : `other processes used ${foreign.toFixed(2)} cores`;
          log(`${tag}: @${fmtRate(rate)}/s disturbed (${why}), running it again`);
        }
      }
      if (best === undefined) continue;
      const r = best.r;
      noisy(`the ${fmtRate(rate)}/s run`, best.foreign);
      if (r.sendLagUs.p99 > LATE_US) result.notes.push(`at ${fmtRate(rate)}/s the generator itself sent late (send lag p99 ${fmtInt(r.sendLagUs.p99)} µs)`);
      if (r.firstError !== undefined) result.notes.push(`at ${fmtRate(rate)}/s: ${r.errors} errors, first: ${r.firstError}`);
      result.fixed.push(r);
      const l = r.latency;
      log(
        `${tag}: @${fmtRate(rate)}/s p50 ${fmtInt(l.p50)} µs, p99 ${fmtInt(l.p99)} µs, p99.9 ${fmtInt(l.p999)} µs, max ${fmtInt(l.max)} µs, ` +
          `achieved ${fmtInt(r.achievedRate)}/s, errors ${r.errors}, send lag p99 ${fmtInt(r.sendLagUs.p99)} µs` +
          (r.proxyCpuUsPerRequest === undefined ? '' : `, proxy CPU ${r.proxyCpuUsPerRequest.toFixed(1)} µs/req`) +
          (r.backendCpuUsPerRequest === undefined ? '' : `, backend ${r.backendCpuUsPerRequest.toFixed(1)} µs/req`) +
          (r.outsideFreezes === undefined
            ? ''
            : `; ${r.outsideFreezes.freezes} core freezes (${r.outsideFreezes.frozenMs} ms) touched ${r.outsideFreezes.touched} requests, the others p99 ${fmtInt(r.outsideFreezes.latency.p99)} µs`),
      );
    }

    const dead = firstDead(running);
    if (dead !== null) throw new Error(`died during the run: ${dead}`);
    const end = running.proxies.map((p) => treeMemory(p.pid));
    result.memory = running.proxies.map(
      (_, i): MemoryFigures => ({ idle: idle[i] ?? 0, ...(idleSettled === undefined ? {} : { idleSettled: idleSettled[i] ?? 0 }), afterSaturation: afterSat[i] ?? 0, peak: end[i]?.peak ?? 0, end: end[i]?.rss ?? 0 }),
    );
    for (const h of helpers) result.notes.push(`${h.name} (not counted as proxy): RSS ${(treeMemory(h.pid).rss / 1e6).toFixed(1)} MB at the end`);
    result.ok = true;
  } catch (err) {
    result.error = err instanceof Error ? err.message : String(err);
    log(`${tag}: FAILED: ${result.error.split('\n')[0]}`);
  } finally {
    await t?.stop();
  }
  return result;
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
  began = performance.now();
  // This process too keeps off the proxy core: it is idle while measuring, but not quite (timers, pipes
  // of the children, the garbage collector's threads), and on the proxy core that would be ours to count.
  if (o.pin) spawnSync('taskset', ['-a', '-p', '-c', String(LOAD_CORE), String(process.pid)], { stdio: 'ignore' });
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
    for (const protocol of o.protocols) {
      log(`\n── ${PROTOCOL_TITLES[protocol]}`);
      const backendPort = await freePort();
      const backend = start(`backend-${protocol}`, process.execPath, [join(root, 'perf', 'backends', BACKENDS[protocol]), '--port', String(backendPort)], {
        core: o.pin ? PROXY_CORE : undefined,
      });
      try {
        await waitWorking(protocol, backendPort, 10_000, {
          gone: () => (backend.child.exitCode !== null ? `backend exited: ${backend.stderrTail()}` : null),
        });
        for (const t of usable) {
          if (!t.protocols.includes(protocol)) continue;
          runs.push(await measure(o, t, protocol, backend, backendPort, scratch));
        }
      } finally {
        await stop(backend);
      }
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
  const outDir = o.outDir === null ? join(root, 'perf', 'results') : resolve(o.outDir);
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
