// The dashboard in a real browser (Debian's chromium, headless, driven by playwright-core) against the
// local mesh `npm start` runs: the workload table shows the demo's three deployments with the numbers
// the traffic generator reports (within 10 %), the failing route (VoteDoughnut, 1 in 4) shows its
// error rate, a tap started from the page shows live requests (filtered, paused, a request's details),
// and the page says so and recovers when the controller is restarted. Screenshots of every page, at
// 1280 px and phone width, light and dark, are written to test-output/dashboard/ (and to
// docs/dashboard/ with SLUICE_DASHBOARD_SCREENSHOTS=docs, which is how the committed ones were made).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { httpGet } from '../../demo/probes.ts';
import { buildDashboard } from '../../scripts/build-dashboard.ts';
import { alive, descendants } from '../support/processes.ts';
import { missingTools, requirementsMet } from '../support/requirements.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CHROMIUM = '/usr/bin/chromium';
const SHOT_DIRS = [join(ROOT, 'test-output', 'dashboard'), ...(process.env['SLUICE_DASHBOARD_SCREENSHOTS'] === 'docs' ? [join(ROOT, 'docs', 'dashboard')] : [])];
const VIEWPORTS = { desktop: { width: 1280, height: 900 }, phone: { width: 390, height: 844 } } as const;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it returns a value other than undefined, or fails with `what` and the last value seen. */
async function eventually<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>, describe: () => string = () => ''): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) assert.fail(`${what} within ${timeoutMs / 1000} s. ${describe()}`);
    await sleep(500);
  }
}

interface Sent {
  windowSeconds: number;
  deployments: Record<string, { requests: number; rps: number; successRate: number | null }>;
}

/** The numbers of one row of a stat table on the page, as the page prints them. */
async function tableRow(page: Page, type: string, name: string): Promise<{ success: number | undefined; rps: number | undefined }> {
  const row = page.locator(`table[data-type="${type}"] tr[data-name="${name}"]`);
  const success = await row.locator('td[data-col="success"] .sr').textContent({ timeout: 1000 });
  const rps = await row.locator('td[data-col="rps"] > span').first().textContent({ timeout: 1000 });
  const number = (text: string | null): number | undefined => (text === null || Number.isNaN(parseFloat(text)) ? undefined : parseFloat(text));
  const pct = number(success);
  return { success: pct === undefined ? undefined : pct / 100, rps: number(rps) };
}

async function screenshots(page: Page, base: string, name: string, hash: string, ready: (page: Page) => Promise<void>): Promise<void> {
  for (const [size, viewport] of Object.entries(VIEWPORTS)) {
    for (const scheme of ['light', 'dark'] as const) {
      await page.setViewportSize(viewport);
      await page.emulateMedia({ colorScheme: scheme });
      await page.goto(`${base}${hash}`);
      // A hash change alone keeps the document (and charts drawn in the other scheme): load afresh.
      await page.reload();
      await ready(page);
      // Sparklines are drawn once the history arrives; let one refresh land.
      await sleep(300);
      for (const dir of SHOT_DIRS) await page.screenshot({ path: join(dir, `${name}-${size}-${scheme}.png`), fullPage: true });
    }
  }
  await page.setViewportSize(VIEWPORTS.desktop);
  await page.emulateMedia({ colorScheme: 'light' });
}

test('the dashboard in chromium against the local mesh: numbers, failing route, tap, controller restart', { timeout: 240_000 }, async (t) => {
  if (!requirementsMet(t, missingTools([[CHROMIUM, ['--headless', '--no-sandbox', '--version']]]))) return;
  await buildDashboard({ ifStale: true });
  for (const dir of SHOT_DIRS) mkdirSync(dir, { recursive: true });

  let output = '';
  const launcher: ChildProcess = spawn(process.execPath, ['scripts/start.ts', '--any-ports', '--duration', '400'], { cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  launcher.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  launcher.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const pid = launcher.pid as number;
  let browser: Browser | undefined;
  t.after(async () => {
    await browser?.close().catch(() => {});
    if (alive(pid)) process.kill(-pid, 'SIGINT');
    const deadline = Date.now() + 15_000;
    while (alive(pid) && Date.now() < deadline) await sleep(200);
    for (const p of descendants(pid)) if (alive(p.pid)) process.kill(p.pid, 'SIGKILL');
    if (alive(pid)) process.kill(pid, 'SIGKILL');
  });

  const tail = (): string => output.slice(-3000);
  await eventually('the demo comes up', 90_000, async () => (output.includes('Sluice demo running') ? true : launcher.exitCode !== null ? false : undefined), tail);
  assert.ok(output.includes('Sluice demo running'), `the demo did not come up:\n${tail()}`);
  const trafficStarted = Date.now();
  const base = /Dashboard: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(output)?.[1];
  const statsPort = Number(/stats http:\/\/127\.0\.0\.1:(\d+)\/stats/.exec(output)?.[1]);
  assert.ok(base !== undefined && statsPort > 0, `no dashboard URL or stats address in the summary:\n${output}`);

  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'], timeout: 30_000 });
  const page = await browser.newPage({ viewport: VIEWPORTS.desktop });
  page.setDefaultTimeout(10_000);
  const pageErrors: string[] = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));

  await t.test('a tap started from the workload page shows live requests, filters them, pauses, and shows a request', async () => {
    await page.goto(`${base}#/ns/emojivoto/deployment/web`);
    await page.getByRole('heading', { name: 'deploy/web', level: 1 }).waitFor();
    await page.getByLabel('Path prefix').fill('/api/vote');
    await page.getByRole('button', { name: 'Start tap' }).click();
    const rows = page.locator('[data-testid="tap-list"] tbody tr');
    await eventually('tapped requests appear', 20_000, async () => ((await rows.count()) >= 3 ? true : undefined), () => `state: ${output.slice(-500)}`);
    const paths = await page.locator('[data-testid="tap-list"] tbody td.path').allTextContents();
    assert.ok(paths.length >= 3 && paths.every((p) => p.startsWith('/api/vote')), `the path filter should leave only /api/vote requests: ${paths.join(', ')}`);
    // Details of one request.
    await rows.first().getByRole('button', { name: /^Details of GET \/api\/vote/ }).click();
    const details = page.getByTestId('tap-details');
    await details.waitFor();
    const shown = (await details.textContent()) ?? '';
    assert.match(shown, /Path\/api\/vote/);
    assert.match(shown, /Request headers.*hostweb-svc\.emojivoto\.svc\.cluster\.local:80/, 'the request headers are shown');
    assert.match(shown, /Status200|Status500/);
    // Pause holds the list still while requests keep coming.
    await page.getByRole('button', { name: 'Pause' }).click();
    const heldFirst = await page.locator('[data-testid="tap-list"] tbody tr').first().textContent();
    await sleep(1500);
    assert.equal(await page.locator('[data-testid="tap-list"] tbody tr').first().textContent(), heldFirst, 'paused, the newest request should stay the same');
    assert.match((await page.getByTestId('tap-state').textContent()) ?? '', /Paused \(\d+ events not shown\)/);
    await page.getByRole('button', { name: 'Resume' }).click();
    // Top counts what was tapped.
    await eventually('top lists the tapped path', 10_000, async () => ((await page.getByTestId('top').textContent())?.includes('/api/vote') === true ? true : undefined));
    await page.getByRole('button', { name: 'Stop' }).click();
  });

  await t.test('keyboard: a skip link first, links reach a page, focus moves to its title', async () => {
    await page.goto(`${base}#/`);
    // A fresh load, so that focus starts at the top of the document (a hash change moves it to the title).
    await page.reload();
    await page.locator('table[data-type="namespace"] tr[data-name="emojivoto"]').waitFor();
    // Evaluated in the page (as text: this file is type-checked without the DOM's types).
    const focused = (): Promise<string> => page.evaluate<string>("`${document.activeElement?.id ?? ''}|${document.activeElement?.textContent ?? ''}`");
    await page.keyboard.press('Tab');
    assert.equal(await focused(), '|Skip to content');
    let reached = false;
    for (let i = 0; i < 12 && !reached; i++) {
      await page.keyboard.press('Tab');
      reached = (await focused()) === '|emojivoto';
    }
    assert.ok(reached, 'Tab reaches the emojivoto link');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Namespace emojivoto', level: 1 }).waitFor();
    await eventually('focus moves to the new page\'s title', 5_000, async () => ((await focused()).startsWith('page-title|') ? true : undefined));
  });

  // Waits for a minute of traffic first: longer than the runner's default limit per test.
  await t.test('the workload table shows the three deployments with the generator\'s numbers (within 10 %)', { timeout: 150_000 }, async () => {
    await page.goto(`${base}#/ns/emojivoto`);
    await page.locator('table[data-type="deployment"] tr[data-name="web"]').waitFor();
    // The page shows the last minute; compare once the generator has run for a whole minute of it.
    await sleep(Math.max(0, trafficStarted + 65_000 - Date.now()));
    let last = '';
    await eventually(
      'the page agrees with the generator',
      40_000,
      async () => {
        const sent = JSON.parse((await httpGet('127.0.0.1', statsPort, '/stats.json?window=60s')).body) as Sent;
        const checks: string[] = [];
        for (const name of ['web', 'emoji', 'voting']) {
          const shown = await tableRow(page, 'deployment', name);
          const want = sent.deployments[name];
          if (want === undefined) return undefined;
          const rpsOff = shown.rps === undefined ? Infinity : Math.abs(shown.rps - want.rps) / want.rps;
          const successOff = shown.success === undefined || want.successRate === null ? Infinity : Math.abs(shown.success - want.successRate) / want.successRate;
          checks.push(`${name}: page ${shown.rps} rps ${shown.success}, generator ${want.rps.toFixed(2)} rps ${want.successRate?.toFixed(4)}`);
          if (rpsOff > 0.1 || successOff > 0.1) {
            last = checks.join('; ');
            return undefined;
          }
        }
        last = checks.join('; ');
        return true;
      },
      () => last,
    );
    t.diagnostic(`numbers: ${last}`);
    const voting = await tableRow(page, 'deployment', 'voting');
    assert.ok(voting.success !== undefined && voting.success < 1, `voting's success rate shows its failures: ${voting.success}`);
  });

  await t.test('the failing route shows its error rate', async () => {
    await page.goto(`${base}#/ns/emojivoto/deployment/web`);
    const doughnut = page.locator('[data-routes="Outbound to voting-svc"] tr[data-route="POST /emojivoto.v1.VotingService/VoteDoughnut"] .sr');
    const text = await eventually('the VoteDoughnut route shows a success rate', 20_000, async () => (await doughnut.textContent({ timeout: 1000 })) ?? undefined);
    const rate = parseFloat(text) / 100;
    // One in four doughnut votes fails (demo/voting.ts); at ~2 votes/s over a minute (checked after the
    // minute the numbers test waits for), 60–90 % is 3.5 standard deviations either side.
    assert.ok(rate > 0.6 && rate < 0.9, `VoteDoughnut should succeed ~75 % of the time, the page says ${text}`);
    const others = await page.locator('[data-routes="Outbound to voting-svc"] tr[data-route="POST /emojivoto.v1.VotingService/VoteCat"] .sr').textContent();
    assert.equal(others, '100.00%');
  });

  await t.test('screenshots of each page (with a minute of sparklines) at 1280 px and phone width, light and dark', async () => {
    const heading = (name: string) => async (p: Page) => void (await p.getByRole('heading', { name, level: 1 }).waitFor());
    const hasRows = (selector: string) => async (p: Page) => void (await p.locator(selector).first().waitFor());
    await screenshots(page, base, 'namespaces', '#/', hasRows('table[data-type="namespace"] tr[data-name="emojivoto"]'));
    await screenshots(page, base, 'namespace', '#/ns/emojivoto', hasRows('table[data-type="deployment"] tr[data-name="web"]'));
    await screenshots(page, base, 'workload', '#/ns/emojivoto/deployment/web', hasRows('[data-routes="Outbound to voting-svc"] tbody tr'));
    await screenshots(page, base, 'topology', '#/topology', async (p) => {
      await heading('Topology')(p);
      await p.locator('svg.graph .edge').first().waitFor();
    });
  });

  await t.test('the page says the controller is gone, then recovers when it is restarted', { timeout: 120_000 }, async () => {
    await page.goto(`${base}#/ns/emojivoto`);
    await page.locator('table[data-type="deployment"] tr[data-name="web"]').waitFor();
    const controller = descendants(pid).find((p) => p.cmdline.includes('src/control/main.ts'));
    assert.ok(controller !== undefined, 'the controller process should be found under the launcher');
    process.kill(controller.pid, 'SIGKILL');
    const banner = page.getByTestId('banner');
    await eventually('the page says the connection is lost', 15_000, async () => ((await banner.textContent({ timeout: 500 }))?.includes('Lost the connection') === true ? true : undefined));
    await eventually('the page says it reconnected to a restarted controller', 45_000, async () => ((await banner.textContent({ timeout: 500 }))?.includes('the controller restarted') === true ? true : undefined), tail);
    for (const dir of SHOT_DIRS) await page.screenshot({ path: join(dir, 'reconnected-desktop-light.png') });
    // Numbers come back as the proxies report to the new controller.
    await eventually('the table shows traffic again', 45_000, async () => ((await tableRow(page, 'deployment', 'web')).rps ?? 0) > 0 || undefined, tail);
    assert.ok(output.includes('restarting it'), 'the launcher restarted the controller');
  });

  assert.deepEqual(pageErrors, [], 'the page threw no errors');
});
