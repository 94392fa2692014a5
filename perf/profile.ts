// `npm run profile`: the Sluice proxy under a saturating HTTP/1.1 load (autocannon), profiled twice:
//   1. clinic flame (SLUICE_PROXY_WORKERS=0): a flame graph HTML of the main thread;
//   2. node --cpu-prof (SLUICE_PROXY_WORKERS=1): V8's sampling profiler on every thread, workers included;
//      the top self-time functions are printed — this is the "where the time goes" list.
//
//   npm run profile [-- --only clinic|cpu-prof] [--seconds N (15)] [--connections N (32)] [--top N (30)]
//
// clinic flame samples the main thread only (0x over V8's --prof), hence WORKERS=0 for it; its own log
// writing (__write, fputc, std::ostream) shows up in its samples. Clinic 13 on Node 24 waits forever for an
// answer to its usage-statistics prompt when nobody is at a terminal: NO_INSIGHT=1 skips the prompt.
// Results go to perf/results/profile/ (not committed).
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { descendants, installCleanupHandlers, sleep, start, stop, stopAll, which } from './lib/procs.ts';
import type { Started } from './lib/procs.ts';
import { freePort } from './lib/net.ts';
import { waitWorking } from './lib/probe.ts';
import { saturate } from './lib/saturation.ts';
import { formatHotSpots, topFromClinicSamples, topFromCpuProfiles } from './lib/profile-summary.ts';
import type { ClinicFrame, CpuProfile } from './lib/profile-summary.ts';
import { SLUICE_BIN, sluiceEnv, sluicePorts, waitSluiceReady } from './lib/sluice-proc.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

type Mode = 'clinic' | 'cpu-prof';
const clinicBin = join(root, 'node_modules', 'clinic', 'bin.js');
const only = flag('only');
const seconds = Number(flag('seconds') ?? 15);
const connections = Number(flag('connections') ?? 32);
const topN = Number(flag('top') ?? 30);
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

async function profileOnce(mode: Mode, workers: number, backendPort: number): Promise<string> {
  const ports = await sluicePorts();
  const env = sluiceEnv(ports, { workers, outboundForward: backendPort, inboundForward: backendPort });
  const sluice = join(root, ...SLUICE_BIN);
  const dest = join(outDir, mode);
  let proxy: Started;
  if (mode === 'clinic') {
    env['NO_INSIGHT'] = '1';
    proxy = start('clinic', process.execPath, [clinicBin, 'flame', '--collect-only', '--dest', dest, '--', process.execPath, sluice], { core: core(0), env });
  } else {
    proxy = start('sluice', process.execPath, ['--cpu-prof', '--cpu-prof-dir', dest, sluice], { core: core(0), env });
  }
  await waitSluiceReady(proxy, ports.admin, 60_000);
  await waitWorking('h1', ports.outbound, 20_000);
  console.log(`${mode}: SLUICE_PROXY_WORKERS=${workers}, autocannon -c ${connections} for ${seconds} s …`);
  const counts = await saturate({ protocol: 'h1', port: ports.outbound, seconds, connections, streams: 1, core: core(1), tmpDir: outDir, root });
  const load = `${Math.round(counts.requests / counts.seconds)} req/s for ${seconds} s (HTTP/1.1, ${connections} connections, ${counts.errors} errors)`;
  console.log(`${mode}: load ${load}; stopping the proxy and writing the profile …`);
  await sleep(300);
  // clinic: SIGINT to it and its subprocess (0x's preload exits on it), then clinic analyses the ticks.
  // --cpu-prof: SIGTERM; the proxy drains and exits normally, so every thread writes its profile.
  if (mode === 'clinic') signalTree(proxy, 'SIGINT');
  else process.kill(proxy.pid, 'SIGTERM');
  const how = await Promise.race([proxy.exited, sleep(300_000).then(() => 'timeout' as const)]);
  if (how === 'timeout') {
    await stop(proxy, 100);
    throw new Error(`${mode}: the profiled proxy did not stop within 300 s`);
  }

  if (mode === 'clinic') {
    const dataDir = existsSync(dest) ? readdirSync(dest).find((f) => f.endsWith('.clinic-flame')) : undefined;
    if (dataDir === undefined) throw new Error(`clinic wrote no data under ${dest}`);
    const samplesFile = readdirSync(join(dest, dataDir)).find((f) => f.endsWith('-samples'));
    if (samplesFile === undefined) throw new Error('clinic wrote no samples file');
    const samples = JSON.parse(readFileSync(join(dest, dataDir, samplesFile), 'utf8')) as ClinicFrame[][];
    const r = topFromClinicSamples(samples, topN, root);
    let text = `## clinic flame — main thread, SLUICE_PROXY_WORKERS=${workers}\nload: ${load}\n${r.total} samples; self samples by leaf frame:\n${formatHotSpots(r.spots, 'ticks')}`;
    const viz = start('clinic-visualize', process.execPath, [clinicBin, 'flame', '--visualize-only', join(dest, dataDir)], { env: { ...process.env, NO_INSIGHT: '1' } });
    await Promise.race([viz.exited, sleep(300_000)]);
    await stop(viz, 100);
    const html = join(dest, `${dataDir}.html`);
    if (existsSync(html)) text += `\nflame graph: ${html}`;
    return text;
  }
  const files = existsSync(dest) ? readdirSync(dest).filter((f) => f.endsWith('.cpuprofile')) : [];
  if (files.length === 0) throw new Error(`no .cpuprofile written under ${dest} (did the proxy exit normally?)`);
  const profiles = files.map((f) => JSON.parse(readFileSync(join(dest, f), 'utf8')) as CpuProfile);
  const r = topFromCpuProfiles(profiles, topN, root);
  return `## node --cpu-prof — all threads (${files.length} profiles), SLUICE_PROXY_WORKERS=${workers}\nload: ${load}\n${r.total.toFixed(0)} ms busy (+ ${r.idle.toFixed(0)} ms idle) sampled; self time, % of busy:\n${formatHotSpots(r.spots, 'ms')}`;
}

async function main(): Promise<void> {
  if (process.argv.includes('--help') || process.argv.includes('-h')) {
    process.stdout.write(`${readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(0, 12).join('\n')}\n`);
    return;
  }
  if (!existsSync(join(root, ...SLUICE_BIN))) throw new Error(`${SLUICE_BIN.join('/')} does not exist: nothing to profile`);
  const modes: Mode[] = only === 'clinic' ? ['clinic'] : only === 'cpu-prof' ? ['cpu-prof'] : ['clinic', 'cpu-prof'];
  if (modes.includes('clinic') && !existsSync(clinicBin)) {
    console.log('clinic is not installed (node_modules/clinic): profiling with node --cpu-prof only');
    modes.splice(modes.indexOf('clinic'), 1);
    if (!modes.includes('cpu-prof')) modes.push('cpu-prof');
  }
  installCleanupHandlers();
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });

  const backendPort = await freePort();
  const backend = start('backend-h1', process.execPath, [join(root, 'perf', 'backends', 'h1.ts'), '--port', String(backendPort)], { core: core(0) });
  await waitWorking('h1', backendPort, 10_000);
  const parts: string[] = [];
  for (const mode of modes) {
    try {
      parts.push(await profileOnce(mode, mode === 'clinic' ? 0 : 1, backendPort));
    } catch (err) {
      parts.push(`## ${mode}\nfailed: ${err instanceof Error ? err.message : String(err)}`);
      process.exitCode = 1;
    }
  }
  await stop(backend);
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
