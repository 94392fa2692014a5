// The `sluice` command: arguments, dispatch, the API address, a controller that cannot be reached, and
// stat / routes / version against a real controller (its telemetry and public API components).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { pod, podsOnlyDiscovery, startController, type RunningController } from '../../test/support/controller.ts';
import { syntheticReport } from '../control/telemetry/testkit.ts';
import { apiBaseUrl, CliError, DEFAULT_API_ADDR } from './api-client.ts';
import type { CliIo } from './io.ts';
import { runCli } from './run.ts';
import { parseResourceFlag, parseTargets } from './targets.ts';

const BIN = fileURLToPath(new URL('../../bin/sluice.js', import.meta.url));

async function cli(args: string[], env: Record<string, string | undefined> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = { env, stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) };
  const code = await runCli(args, io);
  return { code, stdout, stderr };
}

/** A local port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('resource arguments', () => {
  it('reads TYPE, TYPE NAME…, TYPE/NAME… with kubectl aliases', () => {
    assert.deepEqual(parseTargets(['deploy']), [{ type: 'deployment', name: '' }]);
    assert.deepEqual(parseTargets(['po', 'a', 'b']), [
      { type: 'pod', name: 'a' },
      { type: 'pod', name: 'b' },
    ]);
    assert.deepEqual(parseTargets(['deploy/web', 'svc/books']), [
      { type: 'deployment', name: 'web' },
      { type: 'service', name: 'books' },
    ]);
    assert.deepEqual(parseTargets(['all']), [{ type: 'all', name: '' }]);
    assert.deepEqual(parseResourceFlag('--to', 'au/web:80'), { type: 'authority', name: 'web:80' });
  });

  it('refuses what it cannot read, saying why', () => {
    assert.throws(() => parseTargets([]), /no resource given/);
    assert.throws(() => parseTargets(['widgets']), /unknown resource type "widgets"/);
    assert.throws(() => parseTargets(['deploy/web', 'po']), /all must be/);
    assert.throws(() => parseTargets(['deploy', 'po/x']), /not both/);
    assert.throws(() => parseTargets(['deploy/']), /missing the name/);
    assert.throws(() => parseResourceFlag('--from', 'all'), /cannot be "all"/);
  });

  it('takes the API address from --api, else SLUICE_API_ADDR, else 127.0.0.1:8085', () => {
    assert.equal(apiBaseUrl('10.0.0.1:9000', { SLUICE_API_ADDR: 'other:1' }), 'http://10.0.0.1:9000');
    assert.equal(apiBaseUrl(undefined, { SLUICE_API_ADDR: 'ctl.sluice:8085' }), 'http://ctl.sluice:8085');
    assert.equal(apiBaseUrl(undefined, {}), `http://${DEFAULT_API_ADDR}`);
    assert.equal(apiBaseUrl('https://api.example:443/', {}), 'https://api.example');
    assert.throws(() => apiBaseUrl('http://', {}), CliError);
  });
});

describe('sluice command', () => {
  it('prints usage, and refuses unknown commands and flags', async () => {
    const help = await cli(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /stat {3}.*\n.*routes/);
    const unknown = await cli(['frobnicate']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command "frobnicate"/);
    const flag = await cli(['stat', 'deploy', '--bogus']);
    assert.equal(flag.code, 2);
    assert.match(flag.stderr, /Unknown option '--bogus'/);
    const window = await cli(['stat', 'deploy', '-t', '2d']);
    assert.equal(window.code, 2);
    assert.match(window.stderr, /--time-window must be/);
    assert.match((await cli(['stat', '--help'])).stdout, /Usage:\n {2}sluice stat/);
  });

  it('says plainly when the controller cannot be reached, and how to point at it', async () => {
    const port = await closedPort();
    const result = await cli(['stat', 'deploy', '--api', `127.0.0.1:${port}`]);
    assert.equal(result.code, 1);
    assert.equal(
      result.stderr,
      `Error: cannot reach the Sluice controller's public API at 127.0.0.1:${port} (connection refused).\n` +
        'Is sluice-controller running? Point the CLI at it with --api HOST:PORT or SLUICE_API_ADDR.\n',
    );
    assert.equal(result.stdout, '');
    const fromEnv = await cli(['routes', 'deploy/web'], { SLUICE_API_ADDR: `127.0.0.1:${port}` });
    assert.match(fromEnv.stderr, new RegExp(`at 127\\.0\\.0\\.1:${port} \\(connection refused\\)`));
    const version = await cli(['version', '--api', `127.0.0.1:${port}`]);
    assert.equal(version.code, 0);
    assert.match(version.stdout, /^Client version: \S+\nServer version: unavailable\n$/);
  });
});

describe('sluice against a controller', () => {
  let controller: RunningController;

  before(async () => {
    controller = await startController(
      podsOnlyDiscovery(() => [pod('shop', 'web-1', 'Deployment/web'), pod('shop', 'web-2', 'Deployment/web'), pod('shop', 'books-1', 'Deployment/books', { meshed: false })]),
    );
    controller.store.ingest(syntheticReport({ pod: 'web-1', workload: 'deployment/web', requests: [{ ok: 57, failed: 3, latencyUs: 3_000 }] }));
    controller.store.ingest(
      syntheticReport({
        pod: 'web-1',
        workload: 'deployment/web',
        direction: 'outbound',
        requests: [{ authority: 'books.shop.svc.cluster.local:80', ok: 30, latencyUs: 12_000, dst: { namespace: 'shop', deployment: 'books', service: 'books' } }],
      }),
    );
  });

  after(async () => {
    await controller.close();
  });

  it('stat deploy -n shop', async () => {
    const result = await cli(['stat', 'deploy', '-n', 'shop', '--api', controller.publicApi]);
    assert.equal(result.code, 0, result.stderr);
    // The store has just started: rates are over the time it has run (at least ten seconds), so they vary.
    assert.equal(
      result.stdout.replace(/\d+\.\drps/, '6.0rps'),
      [
        'NAME    MESHED   SUCCESS      RPS   LATENCY_P50   LATENCY_P95   LATENCY_P99   TCP_CONN',
        'books      0/1         -        -             -             -             -          -',
        'web        2/2    95.00%   6.0rps           3ms           3ms           3ms          0',
        '',
      ].join('\n'),
    );
  });

  it('stat --to, --from and -o json', async () => {
    const to = await cli(['stat', 'deploy/web', '-n', 'shop', '--to', 'svc/books', '-o', 'json', '--api', controller.publicApi]);
    const rows = JSON.parse(to.stdout) as Array<Record<string, unknown>>;
    assert.equal(rows.length, 1);
    assert.equal(rows[0]?.['name'], 'web');
    assert.equal(rows[0]?.['success'], 1);
    assert.equal(rows[0]?.['latency_ms_p50'], 12);
    const from = await cli(['stat', 'svc', '-n', 'shop', '--from', 'deploy/web', '--api', controller.publicApi]);
    assert.match(from.stdout, /^books +- +100\.00% /m);
    const refused = await cli(['stat', 'svc', '-n', 'shop', '--api', controller.publicApi]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^Error: service stats are measured by the clients/);
  });

  it('routes and version', async () => {
    const routes = await cli(['routes', 'deploy/web', '-n', 'shop', '--to', 'svc/books', '--api', controller.publicApi]);
    assert.equal(routes.code, 0, routes.stderr);
    assert.equal(
      routes.stdout.replace(/\d+\.\drps/, '3.0rps'),
      [
        'ROUTE       SERVICE   SUCCESS      RPS   LATENCY_P50   LATENCY_P95   LATENCY_P99',
        '[DEFAULT]   books     100.00%   3.0rps          12ms          12ms          12ms',
        '',
      ].join('\n'),
    );
    const none = await cli(['routes', 'deploy/books', '-n', 'shop', '--api', controller.publicApi]);
    assert.equal(none.stderr, 'No traffic found.\n');
    const version = await cli(['version', '--api', controller.publicApi]);
    assert.match(version.stdout, /^Client version: (\S+)\nServer version: \1\n$/);
  });

  it('bin/sluice.js runs the same CLI', async () => {
    const result = await new Promise<{ code: number; stdout: string }>((resolve) =>
      execFile(process.execPath, [BIN, 'stat', 'deploy/web', '-n', 'shop', '--api', controller.publicApi], (error, stdout) =>
        resolve({ code: (error as { code?: number } | null)?.code ?? 0, stdout }),
      ),
    );
    assert.equal(result.code, 0);
    assert.match(result.stdout, /^web +2\/2 +95\.00%/m);
  });
});
