// The Prometheus backend against a real Prometheus: Debian's `prometheus`, started here on loopback
// with a generated configuration that scrapes the local mesh's proxies every second (each target
// labelled with its namespace, pod and deployment, as the Kubernetes scrape configuration in
// docs/controller.md labels them). `sluice stat` from a controller with --prometheus-url and from the
// local mesh's own controller (the embedded store) must agree within 5 % on success rate and RPS for
// the demo's three deployments. Needs the `prometheus` binary (scripts/system-deps.sh test); skips
// visibly without it (fails under CI). The demo runs on ports the system picks (--any-ports), and its
// summary says where its public API is.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../demo/mesh.ts';
import { missingTools, requirementsMet } from '../support/requirements.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const WINDOW = '1m';
const DEPLOYMENTS = ['web', 'emoji', 'voting'];
/** The proxies' default report interval, and the samples spread over it. */
const REPORT_INTERVAL_MS = 5_000;
const SAMPLES = 5;

interface Proxy {
  readonly deployment: string;
  readonly namespace: string;
  readonly pod: string;
  readonly admin: string;
}

/** The proxies of the demo's summary: `deploy/<d>   pod <ns>/<pod>, …` then the proxy's `admin <addr>`. */
function proxiesOf(summary: string): Proxy[] {
  const out: Proxy[] = [];
  const lines = summary.split('\n');
  lines.forEach((line, i) => {
    const pod = /deploy\/(\S+)\s+pod ([^/\s]+)\/([^,\s]+),/.exec(line);
    const admin = /admin (\S+)/.exec(lines[i + 1] ?? '');
    if (pod !== null && admin !== null) out.push({ deployment: pod[1] as string, namespace: pod[2] as string, pod: pod[3] as string, admin: admin[1] as string });
  });
  return out;
}

/** A scrape configuration for these proxies, 1-second interval, target labels as in a cluster. */
function prometheusConfig(proxies: readonly Proxy[]): string {
  const targets = proxies.map((p) =>
    [`      - targets: ['${p.admin}']`, '        labels:', `          namespace: ${p.namespace}`, `          pod: ${p.pod}`, `          deployment: ${p.deployment}`].join('\n'),
  );
  return ['global:', '  scrape_interval: 1s', '  evaluation_interval: 1s', 'scrape_configs:', '  - job_name: sluice-proxy', '    metrics_path: /metrics', '    static_configs:', ...targets, ''].join('\n');
}

function start(cmd: string, args: string[], output: { text: string }): ChildProcess {
  const child = spawn(cmd, args, { cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.on('data', (chunk: Buffer) => (output.text += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output.text = (output.text + chunk.toString()).slice(-20_000)));
  return child;
}

/** Stops a child and everything in its process group. */
function stopGroup(child: ChildProcess): void {
  if (child.pid === undefined || child.exitCode !== null) return;
  try {
    process.kill(-child.pid, 'SIGINT');
  } catch {
    // already gone
  }
}

async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined> | T | undefined, detail: () => string = () => ''): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const found = await probe();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${ms} ms\n${detail().slice(-3000)}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

interface Row {
  readonly success: number;
  readonly rps: number;
}

/** `sluice stat deploy -n emojivoto -o json` against the public API at `api`, by deployment. */
function stat(api: string): Map<string, Row> {
  const run = spawnSync(process.execPath, [join(ROOT, 'bin', 'sluice.js'), 'stat', 'deploy', '-n', 'emojivoto', '-t', WINDOW, '-o', 'json', '--api', api], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 20_000,
  });
  assert.equal(run.status, 0, `sluice stat --api ${api} failed:\n${run.stdout}\n${run.stderr}`);
  const rows = new Map<string, Row>();
  for (const row of JSON.parse(run.stdout === '' ? '[]' : run.stdout) as Array<{ name: string; success: number | null; rps: number | null }>) {
    if (row.success !== null && row.rps !== null) rows.set(row.name, { success: row.success, rps: row.rps });
  }
  return rows;
}

const relative = (a: number, b: number): number => Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b), 1e-9);

test('sluice stat from Prometheus agrees with the embedded store within 5 % (success rate and RPS)', { timeout: 150_000 }, async (t) => {
  const missing = missingTools([['prometheus', ['--version']]]);
  if (!requirementsMet(t, missing)) return;

  const scratch = mkdtempSync(join(tmpdir(), 'sluice-prom-'));
  const demoOut = { text: '' };
  const promOut = { text: '' };
  const ctlOut = { text: '' };
  const children: ChildProcess[] = [];
  t.after(() => {
    for (const child of children.reverse()) stopGroup(child);
    rmSync(scratch, { recursive: true, force: true });
  });

  // The demo: controller (embedded store), three proxies and apps, 10 rps of traffic.
  children.push(start(process.execPath, ['scripts/start.ts', '--any-ports', '--duration', '140'], demoOut));
  await until('the demo coming up', 60_000, () => (demoOut.text.includes('Sluice demo running') ? true : undefined), () => demoOut.text);
  const proxies = proxiesOf(demoOut.text);
  const embeddedApi = /public API (127\.0\.0\.1:\d+)/.exec(demoOut.text)?.[1];
  assert.ok(embeddedApi !== undefined, `the demo's summary names its public API:\n${demoOut.text}`);
  assert.deepEqual(proxies.map((p) => p.deployment).sort(), [...DEPLOYMENTS].sort(), `proxies in the demo's summary:\n${demoOut.text}`);

  // Prometheus on loopback, scraping every proxy's /metrics each second.
  const promPort = await freePort();
  writeFileSync(join(scratch, 'prometheus.yml'), prometheusConfig(proxies));
  children.push(
    start('prometheus', [`--config.file=${join(scratch, 'prometheus.yml')}`, `--storage.tsdb.path=${join(scratch, 'data')}`, `--web.listen-address=127.0.0.1:${promPort}`], promOut),
  );
  const promUrl = `http://127.0.0.1:${promPort}`;
  await until('Prometheus ready', 30_000, async () => ((await fetch(`${promUrl}/-/ready`).catch(() => undefined))?.ok === true ? true : undefined), () => promOut.text);

  // A second controller that answers from Prometheus.
  const ctlPort = await freePort();
  children.push(
    start(
      process.execPath,
      [join(ROOT, 'bin', 'sluice-controller.js'), '--discovery', 'file', '--proxy-api-addr', '127.0.0.1:0', `--public-api-addr=127.0.0.1:${ctlPort}`, `--prometheus-url=${promUrl}`],
      ctlOut,
    ),
  );
  await until('the Prometheus-backed controller ready', 30_000, () => (ctlOut.text.includes('controller ready') ? true : undefined), () => ctlOut.text);

  // A whole window of traffic in both, then samples of each, taken together and averaged. The
  // embedded store counts reports as they arrive (every 5 s per proxy), so its count over a window
  // steps up and down by one report (up to ~8 % of a minute); samples spread evenly over one report
  // interval average that out. Prometheus scrapes every second.
  await new Promise((resolve) => setTimeout(resolve, 62_000));
  const samples: Array<{ embedded: Map<string, Row>; prometheus: Map<string, Row> }> = [];
  const first = Date.now();
  for (let i = 0; i < SAMPLES; i++) {
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, first + (i * REPORT_INTERVAL_MS) / SAMPLES - Date.now())));
    samples.push({ embedded: stat(embeddedApi), prometheus: stat(`127.0.0.1:${ctlPort}`) });
  }
  const mean = (which: 'embedded' | 'prometheus', name: string, field: keyof Row): number => {
    const values = samples.map((s) => s[which].get(name)?.[field]).filter((v): v is number => v !== undefined);
    assert.equal(values.length, samples.length, `deploy/${name} has no traffic in every ${which} sample: ${JSON.stringify(samples.map((s) => [...s[which]]))}`);
    return values.reduce((a, b) => a + b, 0) / values.length;
  };
  const report: string[] = [];
  for (const name of DEPLOYMENTS) {
    const e = { success: mean('embedded', name, 'success'), rps: mean('embedded', name, 'rps') };
    const p = { success: mean('prometheus', name, 'success'), rps: mean('prometheus', name, 'rps') };
    report.push(`${name}: success ${(e.success * 100).toFixed(2)} % vs ${(p.success * 100).toFixed(2)} %, RPS ${e.rps.toFixed(2)} vs ${p.rps.toFixed(2)}`);
    t.diagnostic(report[report.length - 1] as string);
    assert.ok(e.rps > 1, `deploy/${name} should carry traffic: ${report.join('; ')}`);
    assert.ok(relative(e.success, p.success) <= 0.05, `success rates of deploy/${name} differ by more than 5 %: ${report.join('; ')}`);
    assert.ok(relative(e.rps, p.rps) <= 0.05, `RPS of deploy/${name} differ by more than 5 %: ${report.join('; ')}`);
  }
});
