// `npm run profile`: the Sluice proxy under a saturating load — autocannon for HTTP/1.1, h2load for h2c
// and gRPC unary — profiled per protocol, twice:
//   1. clinic flame (SLUICE_PROXY_WORKERS=0): a flame graph HTML of the main thread;
//   2. node --cpu-prof (SLUICE_PROXY_WORKERS=1): V8's sampling profiler on every thread, workers included;
//      the top self-time functions are printed — this is the "where the time goes" list.
// `--target sluice-mesh` profiles the mesh path: a controller with file discovery, clients sending
// backend.perf.svc.cluster.local:80, the proxy resolving it through Destination as in a pod (checked on
// its /metrics before the profile is kept). `npm run profile -- --help` lists the options.
//
// clinic flame samples the main thread only (0x over V8's --prof), hence WORKERS=0 for it; its own log
// writing (__write, fputc, std::ostream) shows up in its samples. Clinic 13 on Node 24 waits forever for an
// answer to its usage-statistics prompt when nobody is at a terminal: NO_INSIGHT=1 skips the prompt.
// Results go to perf/results/profile/ (not committed).
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { descendants, installCleanupHandlers, sleep, start, stop, stopAll, timeout, which } from './lib/procs.ts';
import type { Started } from './lib/procs.ts';
import { freePort } from './lib/net.ts';
import { waitWorking } from './lib/probe.ts';
import { saturate } from './lib/saturation.ts';
import { formatHotSpots, topFromClinicSamples, topFromCpuProfiles } from './lib/profile-summary.ts';
import type { ClinicFrame, CpuProfile } from './lib/profile-summary.ts';
import { PROFILE_USAGE, parseProfileArgs } from './lib/profile-args.ts';
import type { ProfileMode, ProfileOptions } from './lib/profile-args.ts';
import { MESH_AUTHORITY, meshDiscoveryYaml, meshPathProblem } from './lib/mesh.ts';
import { CONTROLLER_BIN, SLUICE_BIN, fetchMetrics, shebangNodeOptions, sluiceEnv, sluicePorts, startController, waitSluiceReady } from './lib/sluice-proc.ts';
import type { RunningController } from './lib/sluice-proc.ts';
import { BACKENDS } from './targets.ts';
import { PROTOCOL_TITLES } from './lib/types.ts';
import type { Protocol } from './lib/types.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const clinicBin = join(root, 'node_modules', 'clinic', 'bin.js');
const core = (c: number): number | undefined => (which('taskset') !== null ? c : undefined);
const outDir = join(root, 'perf', 'results', 'profile');

function signalTree(p: Started, sig: NodeJS.Signals): void {
  // Like Ctrl+C in a terminal, which signals the whole process group.
  for (const pid of [p.pid, ...descendants(p.pid)]) {
    try {
      process.kill(pid, sig);
    } catch {
      // gone
    }
  }
}

interface Chain {
  protocol: Protocol;
  backendPort: number;
  /** The mesh target's controller; undefined: the proxy forwards to the backend's address. */
  controller: RunningController | undefined;
}

async function profileOnce(o: ProfileOptions, mode: ProfileMode, workers: number, chain: Chain): Promise<string> {
  const { protocol, backendPort, controller } = chain;
  const ports = await sluicePorts();
  const env = sluiceEnv(
    ports,
    controller === undefined ? { workers, outboundForward: backendPort, inboundForward: backendPort } : { workers, destination: controller.proxyApi },
  );
  const authority = controller === undefined ? undefined : MESH_AUTHORITY;
  const sluice = join(root, ...SLUICE_BIN);
  const dest = join(outDir, protocol, mode);
  let proxy: Started;
  if (mode === 'clinic') {
    env['NO_INSIGHT'] = '1';
    proxy = start('clinic', process.execPath, [clinicBin, 'flame', '--collect-only', '--dest', dest, '--', process.execPath, ...shebangNodeOptions(sluice), sluice], { core: core(0), env });
  } else {
    proxy = start('sluice', process.execPath, ['--cpu-prof', '--cpu-prof-dir', dest, ...shebangNodeOptions(sluice), sluice], { core: core(0), env });
  }
  await waitSluiceReady(proxy, ports.admin, 60_000);
  await waitWorking(protocol, ports.outbound, 20_000, { authority });
  const h1 = protocol === 'h1';
  const connections = h1 ? o.h1Connections : o.h2Connections;
  const shape = h1 ? `autocannon -c ${connections}` : `h2load -c ${connections} -m ${o.streams}`;
  console.log(`${protocol} · ${o.target} · ${mode}: SLUICE_PROXY_WORKERS=${workers}, ${shape} for ${o.seconds} s …`);
  const counts = await saturate({ protocol, port: ports.outbound, seconds: o.seconds, connections, streams: o.streams, core: core(1), tmpDir: outDir, root, authority });
  const load = `${Math.round(counts.requests / counts.seconds)} req/s for ${o.seconds} s (${PROTOCOL_TITLES[protocol]}, ${shape}, ${counts.errors} errors)`;
  // A mesh profile of traffic that did not take the mesh path would describe the wrong code: refuse it.
  const notMesh = controller === undefined ? null : meshPathProblem(await fetchMetrics(ports.admin), `127.0.0.1:${backendPort}`);
  console.log(`${protocol} · ${mode}: load ${load}; stopping the proxy and writing the profile …`);
  await sleep(300);
  // clinic: SIGINT to it and its subprocess (0x's preload exits on it), then clinic analyses the ticks.
  // --cpu-prof: SIGTERM; the proxy drains and exits normally, so every thread writes its profile.
  if (mode === 'clinic') signalTree(proxy, 'SIGINT');
  else process.kill(proxy.pid, 'SIGTERM');
  const how = await Promise.race([proxy.exited, timeout(300_000)]);
  if (how === 'timeout') {
    await stop(proxy, 100);
    throw new Error(`${mode}: the profiled proxy did not stop within 300 s`);
  }
  if (notMesh !== null) throw new Error(`${mode}: not the mesh path: ${notMesh}`);
  const title = `${PROTOCOL_TITLES[protocol]} · ${o.target}${controller === undefined ? '' : ` (${MESH_AUTHORITY} through Destination)`}`;

  if (mode === 'clinic') {
    const dataDir = existsSync(dest) ? readdirSync(dest).find((f) => f.endsWith('.clinic-flame')) : undefined;
    if (dataDir === undefined) throw new Error(`clinic wrote no data under ${dest}`);
    const samplesFile = readdirSync(join(dest, dataDir)).find((f) => f.endsWith('-samples'));
    if (samplesFile === undefined) throw new Error('clinic wrote no samples file');
    const samples = JSON.parse(readFileSync(join(dest, dataDir, samplesFile), 'utf8')) as ClinicFrame[][];
    const r = topFromClinicSamples(samples, o.top, root);
    let text = `## ${title} — clinic flame, main thread, SLUICE_PROXY_WORKERS=${workers}\nload: ${load}\n${r.total} samples; self samples by leaf frame:\n${formatHotSpots(r.spots, 'ticks')}`;
    const viz = start('clinic-visualize', process.execPath, [clinicBin, 'flame', '--visualize-only', join(dest, dataDir)], { env: { ...process.env, NO_INSIGHT: '1' } });
    await Promise.race([viz.exited, timeout(300_000)]);
    await stop(viz, 100);
    const html = join(dest, `${dataDir}.html`);
    if (existsSync(html)) text += `\nflame graph: ${html}`;
    return text;
  }
  const files = existsSync(dest) ? readdirSync(dest).filter((f) => f.endsWith('.cpuprofile')) : [];
  if (files.length === 0) throw new Error(`no .cpuprofile written under ${dest} (did the proxy exit normally?)`);
  const profiles = files.map((f) => JSON.parse(readFileSync(join(dest, f), 'utf8')) as CpuProfile);
  const r = topFromCpuProfiles(profiles, o.top, root);
  return `## ${title} — node --cpu-prof, all threads (${files.length} profiles), SLUICE_PROXY_WORKERS=${workers}\nload: ${load}\n${r.total.toFixed(0)} ms busy (+ ${r.idle.toFixed(0)} ms idle) sampled; self time, % of busy:\n${formatHotSpots(r.spots, 'ms')}`;
}

/** Profiles one protocol: its backend (and controller, for the mesh), then each profiler in turn. */
async function profileProtocol(o: ProfileOptions, protocol: Protocol, modes: readonly ProfileMode[], parts: string[]): Promise<void> {
  const backendPort = await freePort();
  const backend = start(`backend-${protocol}`, process.execPath, [join(root, 'perf', 'backends', BACKENDS[protocol]), '--port', String(backendPort)], { core: core(0) });
  let controller: RunningController | undefined;
  try {
    await waitWorking(protocol, backendPort, 10_000);
    if (o.target === 'sluice-mesh') {
      const dir = join(outDir, protocol);
      mkdirSync(dir, { recursive: true });
      controller = await startController(root, dir, meshDiscoveryYaml({ ip: '127.0.0.1', port: backendPort, meshed: false }), core(0));
    }
    for (const mode of modes) {
      try {
        parts.push(await profileOnce(o, mode, mode === 'clinic' ? 0 : 1, { protocol, backendPort, controller }));
      } catch (err) {
        parts.push(`## ${PROTOCOL_TITLES[protocol]} · ${o.target} — ${mode}\nfailed: ${err instanceof Error ? err.message : String(err)}`);
        process.exitCode = 1;
      }
    }
  } finally {
    if (controller !== undefined) await stop(controller.proc);
    await stop(backend);
  }
}

async function main(): Promise<void> {
  const o = parseProfileArgs(process.argv.slice(2));
  if (o.help) {
    process.stdout.write(`${PROFILE_USAGE}\n`);
    return;
  }
  if (!existsSync(join(root, ...SLUICE_BIN))) throw new Error(`${SLUICE_BIN.join('/')} does not exist: nothing to profile`);
  if (o.target === 'sluice-mesh' && !existsSync(join(root, ...CONTROLLER_BIN))) throw new Error(`${CONTROLLER_BIN.join('/')} does not exist: no mesh path to profile`);
  if (o.protocols.some((p) => p !== 'h1') && which('h2load') === null) throw new Error('h2load (Debian nghttp2-client) is not installed: cannot load h2c/gRPC (try --protocols h1)');
  const modes = [...o.modes];
  if (modes.includes('clinic') && !existsSync(clinicBin)) {
    console.log('clinic is not installed (node_modules/clinic): profiling with node --cpu-prof only');
    modes.splice(modes.indexOf('clinic'), 1);
    if (!modes.includes('cpu-prof')) modes.push('cpu-prof');
  }
  installCleanupHandlers();
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });

  const parts: string[] = [];
  for (const protocol of o.protocols) await profileProtocol(o, protocol, modes, parts);
  const summary = `${parts.join('\n\n')}\n`;
  writeFileSync(join(outDir, 'summary.txt'), summary);
  console.log(`\n${summary}\nwritten to ${join(outDir, 'summary.txt')}`);
}

try {
  await main();
} catch (err) {
  console.error(`profile: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
} finally {
  await stopAll();
}
