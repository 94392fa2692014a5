// `npm start` end to end: the launcher brings up the controller, three proxies, three apps and the
// traffic generator on this machine; `sluice stat` then shows the traffic the generator sent, and that
// every hop between the proxies is mTLS (`stat -o wide` SECURED, `edges`, `tap`'s tls=true, tapped over
// mutual TLS); a Ctrl-C
// (SIGINT to the whole process group, as a terminal sends it) stops everything and leaves no process.
// With --any-ports every port is the system's pick, the controller's too, so the test runs beside
// another demo (or the dashboard's browser test); the CLI is pointed at the public API with --api.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { httpGet } from '../demo/probes.ts';
import { alive, descendants as descendantsOf } from '../test/support/processes.ts';

const descendants = (pid: number): number[] => descendantsOf(pid).map((p) => p.pid);

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The installed `sluice` command (package.json's bin), as a node command line. */
function sluiceCommand(): string[] {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin?: Record<string, string> };
  const bin = pkg.bin?.['sluice'];
  assert.ok(bin !== undefined, 'package.json must declare the "sluice" bin');
  return [join(ROOT, bin)];
}

interface StatRow {
  name: string;
  success: number | undefined;
  rps: number | undefined;
}

/**
 * Reads `sluice stat -o json` leniently: an array of rows, or an object holding one, with Linkerd's
 * field names (`name`, `success` as a 0–1 ratio, `rps`) or close variants.
 */
function parseStatJson(text: string): StatRow[] {
  const parsed: unknown = JSON.parse(text);
  const rows: unknown[] = Array.isArray(parsed)
    ? parsed
    : (Object.values(parsed as Record<string, unknown>).find((v) => Array.isArray(v)) as unknown[] | undefined) ?? [];
  const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : typeof v === 'string' && v !== '' && !Number.isNaN(Number(v)) ? Number(v) : undefined);
  return rows.map((row) => {
    const r = row as Record<string, unknown>;
    const rawName = String(r['name'] ?? r['resource'] ?? '');
    let success = num(r['success'] ?? r['successRate'] ?? r['success_rate']);
    if (success !== undefined && success > 1) success /= 100;
    return { name: rawName.replace(/^.*\//, ''), success, rps: num(r['rps'] ?? r['requestRate'] ?? r['request_rate']) };
  });
}

test('npm start: controller, proxies, apps and traffic; sluice stat shows the traffic; Ctrl-C stops everything', { timeout: 240_000 }, async (t) => {
  let output = '';
  // Its own process group, so that SIGINT can go to the whole group, as a terminal's Ctrl-C does.
  const launcher: ChildProcess = spawn(process.execPath, ['scripts/start.ts', '--any-ports', '--duration', '600'], {
    cwd: ROOT,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  launcher.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  launcher.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    launcher.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const pid = launcher.pid as number;
  t.after(() => {
    // Whatever happened, leave nothing behind.
    for (const p of descendants(pid)) if (alive(p)) process.kill(p, 'SIGKILL');
    if (alive(pid)) process.kill(pid, 'SIGKILL');
  });

  const deadline = Date.now() + 120_000;
  while (!output.includes('Sluice demo running') && Date.now() < deadline && launcher.exitCode === null) {
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  assert.ok(output.includes('Sluice demo running'), `the demo did not come up:\n${output}`);
  const statsPort = Number(/stats http:\/\/127\.0\.0\.1:(\d+)\/stats/.exec(output)?.[1]);
  const publicApi = /public API (127\.0\.0\.1:\d+)/.exec(output)?.[1];
  assert.ok(publicApi !== undefined, `no public API address in the summary:\n${output}`);
  assert.ok(statsPort > 0, `no stats address in the summary:\n${output}`);
  const children = descendants(pid);
  assert.ok(children.length >= 8, `expected controller, 3 proxies, 3 apps and traffic; found ${children.length} processes`);

  // Traffic flows end to end: the generator sees successes on every route (voting's doughnut aside).
  let sent: { deployments: Record<string, { requests: number; successRate: number | null }> } | undefined;
  const flowDeadline = Date.now() + 60_000;
  while (Date.now() < flowDeadline) {
    await new Promise((resolve) => setTimeout(resolve, 2000));
    sent = JSON.parse((await httpGet('127.0.0.1', statsPort, '/stats.json?window=10s')).body) as typeof sent;
    const web = sent?.deployments['web'];
    if (web !== undefined && web.requests > 20 && (web.successRate ?? 0) > 0.85) break;
  }
  const web = sent?.deployments['web'];
  assert.ok(web !== undefined && (web.successRate ?? 0) > 0.85, `traffic does not flow through the mesh: ${JSON.stringify(sent)}\n${output.slice(-3000)}`);

  await t.test('every proxy holds a certificate from the controller (identity_cert_refresh_count, expiry in the future)', async () => {
    const admins = [...output.matchAll(/admin 127\.0\.0\.1:(\d+)/g)].map((m) => Number(m[1]));
    assert.equal(admins.length, 3, `three proxy admin addresses in the summary:\n${output}`);
    for (const port of admins) {
      const metrics = (await httpGet('127.0.0.1', port, '/metrics')).body;
      const value = (name: string): number => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(metrics)?.[1] ?? NaN);
      assert.ok(value('identity_cert_refresh_count') >= 1, `proxy on admin port ${port} has no certificate:\n${metrics.slice(0, 2000)}`);
      assert.ok(value('identity_cert_expiration_timestamp_seconds') > Date.now() / 1000, `proxy on admin port ${port}: certificate expiry not in the future`);
    }
  });

  await t.test('sluice stat deploy -n emojivoto -o json shows all three deployments', async () => {
    const cli = sluiceCommand();
    let rows: StatRow[] = [];
    let last = '';
    const statDeadline = Date.now() + 60_000;
    while (Date.now() < statDeadline) {
      const run = spawnSync(process.execPath, [...cli, 'stat', 'deploy', '-n', 'emojivoto', '-o', 'json', '--api', publicApi], { cwd: ROOT, encoding: 'utf8', timeout: 20_000 });
      last = `exit ${run.status}\n${run.stdout}\n${run.stderr}`;
      if (run.status === 0) {
        try {
          rows = parseStatJson(run.stdout);
        } catch {
          rows = [];
        }
        const by = (name: string) => rows.find((r) => r.name === name);
        if (['web', 'emoji', 'voting'].every((n) => (by(n)?.rps ?? 0) > 0) && (by('voting')?.success ?? 1) < 1) break;
      }
      await new Promise((resolve) => setTimeout(resolve, 3000));
    }
    const by = (name: string): StatRow => {
      const row = rows.find((r) => r.name === name);
      assert.ok(row !== undefined, `no row for deploy/${name} in sluice stat:\n${last}`);
      return row;
    };
    for (const name of ['web', 'emoji', 'voting']) assert.ok((by(name).rps ?? 0) > 0, `deploy/${name} shows no traffic:\n${last}`);
    const voting = by('voting').success ?? 1;
    assert.ok(voting < 1 && voting > 0.8, `voting success rate should be below 100 % (doughnut votes fail 1 in 4), about 94 %: ${voting}\n${last}`);
    const webSr = by('web').success ?? 0;
    assert.ok(webSr > 0.85 && webSr < 1, `web success rate should be about 95 %: ${webSr}\n${last}`);
    // The generator sends 10 rps to web; over a stat window that includes start-up it may show less.
    assert.ok((by('web').rps ?? 0) <= 12, `web RPS above what the generator sent:\n${last}`);
  });

  await t.test('sluice tap deploy/web shows its meshed requests with tls=true, tapped over mutual TLS', async () => {
    const tap = spawn(process.execPath, [...sluiceCommand(), 'tap', 'deploy/web', '-n', 'emojivoto', '--api', publicApi], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let lines = '';
    tap.stdout?.on('data', (chunk: Buffer) => (lines += chunk.toString()));
    tap.stderr?.on('data', (chunk: Buffer) => (lines += chunk.toString()));
    // web calls both emoji and voting through its proxy; whichever is tapped first is a meshed request.
    const meshed = /^req .*proxy=out .*tls=true :method=POST :authority=(emoji|voting)-svc/m;
    const tapDeadline = Date.now() + 30_000;
    while (!meshed.test(lines) && Date.now() < tapDeadline && tap.exitCode === null) {
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    tap.kill('SIGINT');
    // web → emoji / voting goes proxy to proxy: mTLS, and the tap line says so.
    assert.match(lines, meshed, `no meshed request in sluice tap's output:\n${lines.slice(0, 3000)}`);
    // The relay reached web's proxy over mutual TLS: its Tap server refused nobody and served calls.
    const admins = [...output.matchAll(/admin 127\.0\.0\.1:(\d+)/g)].map((m) => Number(m[1]));
    const refused = await Promise.all(admins.map(async (port) => /^tap_connections_refused_total\{reason="[a-z_]+"\} [1-9]/m.test((await httpGet('127.0.0.1', port, '/metrics')).body)));
    assert.deepEqual(refused, [false, false, false], 'no proxy refused a tap connection');
  });

  const sluice = (args: string[]): { status: number | null; stdout: string; stderr: string } => {
    const run = spawnSync(process.execPath, [...sluiceCommand(), ...args, '--api', publicApi], { cwd: ROOT, encoding: 'utf8', timeout: 20_000 });
    return { status: run.status, stdout: run.stdout, stderr: run.stderr };
  };

  await t.test('mTLS is visible: stat -o wide SECURED, every hop between meshed deployments secured', async () => {
    // Each deployment's own traffic is what it received: emoji and voting are called only by web's
    // proxy (mTLS); web only by the generator, which is outside the mesh (plaintext, 0 %).
    let table = '';
    let secured: Record<string, number | null> = {};
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const json = sluice(['stat', 'deploy', '-n', 'emojivoto', '-o', 'json']);
      table = sluice(['stat', 'deploy', '-n', 'emojivoto', '-o', 'wide']).stdout;
      secured = Object.fromEntries((JSON.parse(json.stdout || '[]') as Array<{ name: string; secured: number | null }>).map((r) => [r.name, r.secured]));
      if (secured['emoji'] === 1 && secured['voting'] === 1) break;
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
    assert.equal(secured['emoji'], 1, `emoji's requests all over mTLS:\n${table}`);
    assert.equal(secured['voting'], 1, `voting's requests all over mTLS:\n${table}`);
    assert.equal(secured['web'], 0, `web is called only by the unmeshed generator:\n${table}`);
    const header = table.split('\n')[0] ?? '';
    assert.match(header, /SECURED$/, table);
    for (const name of ['emoji', 'voting']) assert.match(table, new RegExp(`^${name} .* 100%$`, 'm'), table);
    // What web sends, per destination: all of it mTLS.
    const from = JSON.parse(sluice(['stat', 'deploy', '-n', 'emojivoto', '--from', 'deploy/web', '-o', 'json']).stdout || '[]') as Array<{ name: string; secured: number | null }>;
    t.diagnostic(`sluice stat deploy -n emojivoto -o wide:\n${table}`);
    const sent = from.filter((r) => r.secured !== null).map((r) => [r.name, r.secured]);
    assert.deepEqual(sent.sort(), [['emoji', 1], ['voting', 1]], JSON.stringify(from));
  });

  await t.test('sluice edges shows web → emoji and web → voting secured, with both identities', async () => {
    const id = (sa: string): string => `${sa}.emojivoto.serviceaccount.identity.sluice.cluster.local`;
    let run = sluice(['edges', 'deploy', '-n', 'emojivoto', '-o', 'json']);
    let rows: Array<Record<string, unknown>> = [];
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      run = sluice(['edges', 'deploy', '-n', 'emojivoto', '-o', 'json']);
      rows = run.status === 0 && run.stdout !== '' ? (JSON.parse(run.stdout) as Array<Record<string, unknown>>) : [];
      if (rows.length >= 2 && rows.every((r) => r['secured'] === true)) break;
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
    assert.deepEqual(
      rows.map((r) => [r['src'], r['dst'], r['secured'], r['client_id'], r['server_id']]),
      [
        ['web', 'emoji', true, id('web'), id('emoji')],
        ['web', 'voting', true, id('web'), id('voting')],
      ],
      `${run.stdout}${run.stderr}`,
    );
    const wide = sluice(['edges', 'deploy', '-n', 'emojivoto', '-o', 'wide']).stdout;
    t.diagnostic(`sluice edges deploy -n emojivoto -o wide:\n${wide}`);
    assert.match(wide, /^SRC +DST +SRC_NS +DST_NS +SECURED +CLIENT_ID +SERVER_ID +MSG$/m, wide);
    assert.match(wide, new RegExp(`^web +voting +emojivoto +emojivoto +√ +${id('web').replace(/\./g, '\\.')} +${id('voting').replace(/\./g, '\\.')}$`, 'm'), wide);
  });

  await t.test('sluice tap lines show tls=true and, with -o wide, the verified caller', async () => {
    const tap = spawn(process.execPath, [...sluiceCommand(), 'tap', 'deploy/voting', '-n', 'emojivoto', '-o', 'wide', '--api', publicApi], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let lines = '';
    tap.stdout?.on('data', (chunk: Buffer) => (lines += chunk.toString()));
    tap.stderr?.on('data', (chunk: Buffer) => (lines += chunk.toString()));
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline && (lines.match(/^req .*proxy=in /gm) ?? []).length < 3) await new Promise((resolve) => setTimeout(resolve, 250));
    tap.kill('SIGINT');
    const inbound = lines.split('\n').filter((l) => /^req .*proxy=in /.test(l));
    t.diagnostic(`sluice tap deploy/voting -n emojivoto -o wide:\n${lines.split('\n').slice(0, 3).join('\n')}`);
    assert.ok(inbound.length >= 3, `tap showed voting's inbound requests:\n${lines.slice(0, 3000)}`);
    for (const line of inbound) {
      assert.match(line, / tls=true /, line);
      assert.match(line, / src_client_id=web\.emojivoto\.serviceaccount\.identity\.sluice\.cluster\.local( |$)/, line);
    }
  });

  // Ctrl-C: SIGINT to the launcher's whole process group.
  process.kill(-pid, 'SIGINT');
  let timer: NodeJS.Timeout | undefined;
  const result = await Promise.race([exited, new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), 40_000)))]);
  clearTimeout(timer);
  assert.notEqual(result, 'timeout', `the launcher did not stop within 40 s of Ctrl-C:\n${output.slice(-3000)}`);
  assert.deepEqual(result, { code: 0, signal: null }, `the launcher should exit 0 after Ctrl-C:\n${output.slice(-3000)}`);
  assert.match(output, /Everything stopped\./);
  assert.doesNotMatch(output, /stopped unexpectedly/);
  const left = children.filter(alive);
  assert.deepEqual(left, [], `processes left after the demo stopped: ${left.join(', ')}`);
});
