// StatSummary and TopRoutes over a store fed with synthetic reports: success rate, RPS, percentiles from
// the exact latencies, --to / --from, pods, namespaces, authorities, services, `all`, and errors.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { StatRow, StatSummaryRequest } from '../../api/public-messages.ts';
import { highestMicrosAt, indexOfMicros } from '../../telemetry/exact-latency.ts';
import type { PodInfo } from '../discovery/types.ts';
import { TelemetryStore } from '../telemetry/store.ts';
import { ManualClock, syntheticReport } from '../telemetry/testkit.ts';
import { listPods, RELEASE_VERSION, selfCheck, version } from './handlers.ts';
import { parseWindow, statSummary } from './stat-summary.ts';
import { DEFAULT_ROUTE, topRoutes } from './top-routes.ts';
import { pod } from '../../../test/support/controller.ts';

const PODS: PodInfo[] = [
  pod('shop', 'web-1', 'Deployment/web'),
  pod('shop', 'web-2', 'Deployment/web'),
  pod('shop', 'books-1', 'Deployment/books'),
  pod('shop', 'legacy-1', 'Deployment/legacy', { meshed: false }),
  pod('shop', 'migrate-x', 'Job/migrate', { phase: 'Succeeded' }),
  pod('other', 'x-1', 'Deployment/x'),
];
const BOOKS = { namespace: 'shop', deployment: 'books', pod: 'books-1', service: 'books' };
const us = (value: number): number => highestMicrosAt(indexOfMicros(value));

function setUp() {
  const clock = new ManualClock();
  const store = new TelemetryStore({ now: clock.read });
  clock.advance(3_600_000); // aligned to 10 s, and long after the store started: a 1m window is 60 s
  store.ingest(
    syntheticReport({
      pod: 'web-1',
      workload: 'deployment/web',
      requests: [{ ok: 90, failed: 10, latencyUs: [...new Array<number>(90).fill(2_000), ...new Array<number>(10).fill(80_000)] }],
      transports: [{ connects: 2, open_connections: 2, read_bytes: 6_000, write_bytes: 3_000 }],
    }),
  );
  store.ingest(syntheticReport({ pod: 'web-2', workload: 'deployment/web', requests: [{ ok: 100, latencyUs: 4_000 }] }));
  store.ingest(
    syntheticReport({
      pod: 'web-1',
      workload: 'deployment/web',
      direction: 'outbound',
      requests: [{ authority: 'books.shop.svc.cluster.local:7000', ok: 30, failed: 10, latencyUs: 9_000, dst: BOOKS }],
      transports: [{ connects: 1, open_connections: 1, read_bytes: 600, write_bytes: 60, dst_labels: BOOKS }],
    }),
  );
  store.ingest(
    syntheticReport({
      pod: 'books-1',
      workload: 'deployment/books',
      requests: [{ authority: 'books.shop.svc.cluster.local:7000', ok: 30, failed: 10, latencyUs: 8_000 }],
    }),
  );
  const sources = { store, pods: () => PODS, now: clock.read };
  const stat = (request: StatSummaryRequest): StatRow[][] => {
    const response = statSummary(sources, { time_window: '1m', tcp_stats: true, ...request });
    assert.equal(response.error, undefined, response.error?.error);
    return (response.ok?.stat_tables ?? []).map((t) => t.pod_group?.rows ?? []);
  };
  const rows = (request: StatSummaryRequest): Map<string, StatRow> => new Map((stat(request)[0] ?? []).map((row) => [row.resource?.name ?? '', row]));
  return { clock, store, sources, stat, rows };
}

describe('StatSummary', () => {
  it('gives each deployment its inbound success, rate, percentiles, pod counts and TCP stats', () => {
    const { rows } = setUp();
    const deployments = rows({ selector: { resource: { namespace: 'shop', type: 'deployment' } } });
    assert.deepEqual([...deployments.keys()], ['books', 'legacy', 'web']);
    const web = deployments.get('web');
    assert.equal(web?.meshed_pod_count, 2);
    assert.equal(web?.running_pod_count, 2);
    assert.equal(web?.window_seconds, 60);
    assert.deepEqual(web?.stats, {
      success_count: 190,
      failure_count: 10,
      latency_ms_p50: 4,
      latency_ms_p95: 4,
      latency_ms_p99: 80,
      actual_success_count: 190,
      actual_failure_count: 10,
      tls_request_count: 0,
      latency_us_p50: us(4_000),
      latency_us_p95: us(4_000),
      latency_us_p99: us(80_000),
    });
    assert.deepEqual(web?.tcp_stats, { open_connections: 2, read_bytes_total: 6_000, write_bytes_total: 3_000 });
    const legacy = deployments.get('legacy');
    assert.equal(legacy?.meshed_pod_count, 0);
    assert.equal(legacy?.running_pod_count, 1);
    assert.equal(legacy?.stats, undefined);
    assert.equal(legacy?.tcp_stats, undefined);
  });

  it('--to: each deployment by what it sent to the destination', () => {
    const { rows } = setUp();
    const toBooks = rows({ selector: { resource: { namespace: 'shop', type: 'deploy' } }, to_resource: { type: 'deploy', name: 'books' } });
    assert.equal(toBooks.get('web')?.stats?.success_count, 30);
    assert.equal(toBooks.get('web')?.stats?.failure_count, 10);
    assert.equal(toBooks.get('web')?.stats?.latency_ms_p50, 9);
    assert.deepEqual(toBooks.get('web')?.tcp_stats, { open_connections: 1, read_bytes_total: 600, write_bytes_total: 60 });
    assert.equal(toBooks.get('books')?.stats, undefined);
    const toService = rows({ selector: { resource: { namespace: 'shop', type: 'deploy', name: 'web' } }, to_resource: { type: 'svc', name: 'books' } });
    assert.equal(toService.get('web')?.stats?.success_count, 30);
    const toPod = rows({ selector: { resource: { namespace: 'shop', type: 'deploy', name: 'web' } }, to_resource: { type: 'po', name: 'books-1' } });
    assert.equal(toPod.get('web')?.stats?.success_count, 30);
  });

  it('--from: destinations by what the source sent them, services included', () => {
    const { rows } = setUp();
    const fromWeb = rows({ selector: { resource: { namespace: 'shop', type: 'deployment' } }, from_resource: { type: 'deployment', name: 'web' } });
    assert.equal(fromWeb.get('books')?.stats?.success_count, 30);
    assert.equal(fromWeb.get('web')?.stats, undefined);
    const services = rows({ selector: { resource: { namespace: 'shop', type: 'svc' } }, from_resource: { type: 'deploy', name: 'web' } });
    assert.deepEqual([...services.keys()], ['books']);
    assert.equal(services.get('books')?.stats?.failure_count, 10);
  });

  it('pods, namespaces and authorities', () => {
    const { rows } = setUp();
    const pods = rows({ selector: { resource: { namespace: 'shop', type: 'po' } } });
    // The finished job pod is hidden, as Linkerd hides it.
    assert.deepEqual([...pods.keys()], ['books-1', 'legacy-1', 'web-1', 'web-2']);
    assert.equal(pods.get('web-1')?.status, 'Running');
    assert.equal(pods.get('web-1')?.stats?.success_count, 90);
    assert.equal(pods.get('web-1')?.meshed_pod_count, 1);
    const namespaces = rows({ selector: { resource: { type: 'ns' } } });
    assert.deepEqual([...namespaces.keys()], ['other', 'shop']);
    assert.equal(namespaces.get('shop')?.stats?.success_count, 220);
    assert.equal(namespaces.get('shop')?.meshed_pod_count, 3);
    assert.equal(namespaces.get('shop')?.running_pod_count, 4);
    const authorities = rows({ selector: { resource: { namespace: 'shop', type: 'au' } }, tcp_stats: false });
    assert.equal(authorities.get('web.shop.svc.cluster.local:80')?.stats?.success_count, 190);
    assert.equal(authorities.get('books.shop.svc.cluster.local:7000')?.stats?.success_count, 30);
  });

  it('every namespace when the selector names none; one resource by name even without traffic', () => {
    const { rows } = setUp();
    // Sorted by namespace, then name.
    assert.deepEqual([...rows({ selector: { resource: { type: 'deploy' } } }).keys()], ['x', 'books', 'legacy', 'web']);
    const missing = rows({ selector: { resource: { namespace: 'shop', type: 'deploy', name: 'nope' } } });
    assert.deepEqual([...missing.keys()], ['nope']);
    assert.equal(missing.get('nope')?.running_pod_count, 0);
  });

  it('`all` returns a table per workload type with rows, then pods', () => {
    const { stat } = setUp();
    const tables = stat({ selector: { resource: { namespace: 'shop', type: 'all' } } });
    assert.deepEqual(
      tables.map((rows) => rows[0]?.resource?.type),
      ['deployment', 'job', 'pod'],
    );
  });

  it('pods that report without discovery knowing them count as meshed and running', () => {
    const { store, sources } = setUp();
    store.ingest(syntheticReport({ namespace: 'dev', pod: 'solo-1', workload: 'deployment/solo', requests: [{ ok: 6 }] }));
    const response = statSummary(sources, { selector: { resource: { namespace: 'dev', type: 'deployment' } }, time_window: '10s' });
    const row = response.ok?.stat_tables?.[0]?.pod_group?.rows?.[0];
    assert.equal(row?.resource?.name, 'solo');
    assert.equal(row?.meshed_pod_count, 1);
    assert.equal(row?.running_pod_count, 1);
    assert.equal(row?.stats?.success_count, 6);
    assert.equal(row?.window_seconds, 10);
  });

  it('answers mistakes with an error naming them', () => {
    const { sources } = setUp();
    const error = (request: StatSummaryRequest): string | undefined => statSummary(sources, request).error?.error;
    assert.match(error({ selector: { resource: { type: 'svc', namespace: 'shop' } } }) ?? '', /use --from/);
    assert.match(error({ selector: { resource: { type: 'deploy' } }, from_resource: { type: 'svc', name: 'books' } }) ?? '', /not a --from source/);
    assert.match(error({ selector: { resource: { type: 'widgets' } } }) ?? '', /unknown resource type "widgets"/);
    assert.match(error({ selector: { resource: { type: 'deploy' } }, time_window: '2h' }) ?? '', /invalid time window "2h"/);
    assert.match(error({ selector: { resource: { type: 'deploy' } }, to_resource: { type: 'all' } }) ?? '', /"all" can only be/);
  });

  it('parses the time windows Linkerd offers (and any up to an hour)', () => {
    assert.deepEqual(parseWindow(undefined), { label: '1m', ms: 60_000 });
    assert.deepEqual(parseWindow('10s'), { label: '10s', ms: 10_000 });
    assert.deepEqual(parseWindow('10m'), { label: '10m', ms: 600_000 });
    assert.deepEqual(parseWindow('1h'), { label: '1h', ms: 3_600_000 });
    assert.throws(() => parseWindow('0s'));
    assert.throws(() => parseWindow('61m'));
    assert.throws(() => parseWindow('1d'));
  });
});

describe('TopRoutes', () => {
  it('lists the routes of what a resource received, [DEFAULT] last, actual counts from retries', () => {
    const { store, sources } = setUp();
    store.ingest(
      syntheticReport({
        pod: 'books-1',
        workload: 'deployment/books',
        requests: [
          { authority: 'books.shop.svc.cluster.local:7000', route: 'GET /books', ok: 20, latencyUs: 3_000 },
          { authority: 'books.shop.svc.cluster.local:7000', route: 'POST /books', ok: 5, failed: 5 },
          { authority: 'books.shop.svc.cluster.local:7000', route: 'POST /books', actual: true, ok: 5, failed: 15 },
          { authority: 'books.shop.svc.cluster.local:7000', route: '', ok: 2 },
        ],
      }),
    );
    const response = topRoutes(sources, { selector: { resource: { namespace: 'shop', type: 'deploy', name: 'books' } }, time_window: '1m' });
    const table = response.ok?.routes?.[0];
    assert.equal(table?.resource, 'deployment/books');
    assert.deepEqual(
      table?.rows?.map((row) => [row.route, row.stats?.success_count, row.stats?.failure_count, row.stats?.actual_success_count, row.stats?.actual_failure_count]),
      [
        ['GET /books', 20, 0, 20, 0],
        ['POST /books', 5, 5, 5, 15],
        [DEFAULT_ROUTE, 2, 0, 2, 0],
      ],
    );
    assert.equal(table?.rows?.[0]?.stats?.latency_ms_p50, 3);
  });

  it('counts a Host without a port and a route dst with :80 as one service', () => {
    const { store, sources } = setUp();
    store.ingest(
      syntheticReport({
        pod: 'web-1',
        workload: 'deployment/web',
        direction: 'outbound',
        requests: [
          { authority: 'books.shop.svc.cluster.local', ok: 4, dst: BOOKS },
          { authority: 'books.shop.svc.cluster.local:80', route: '', ok: 4 },
        ],
      }),
    );
    const response = topRoutes(sources, { selector: { resource: { namespace: 'shop', type: 'deploy', name: 'web' } }, to_resource: { namespace: 'shop', type: 'svc', name: 'books' } });
    assert.deepEqual(
      response.ok?.routes?.[0]?.rows?.map((r) => [r.route, r.authority, r.stats?.success_count]),
      [
        [DEFAULT_ROUTE, 'books.shop.svc.cluster.local:7000', 30],
        [DEFAULT_ROUTE, 'books.shop.svc.cluster.local:80', 4],
      ],
    );
  });

  it('gives an authority without route metrics one [DEFAULT] row from its requests, and follows --to svc/NAME', () => {
    const { sources } = setUp();
    const inbound = topRoutes(sources, { selector: { resource: { namespace: 'shop', type: 'deploy', name: 'web' } } });
    assert.deepEqual(
      inbound.ok?.routes?.[0]?.rows?.map((r) => [r.route, r.authority, r.stats?.success_count]),
      [[DEFAULT_ROUTE, 'web.shop.svc.cluster.local:80', 190]],
    );
    const outbound = topRoutes(sources, { selector: { resource: { namespace: 'shop', type: 'deploy', name: 'web' } }, to_resource: { namespace: 'shop', type: 'svc', name: 'books' } });
    assert.deepEqual(
      outbound.ok?.routes?.[0]?.rows?.map((r) => [r.route, r.authority, r.stats?.failure_count]),
      [[DEFAULT_ROUTE, 'books.shop.svc.cluster.local:7000', 10]],
    );
    assert.match(topRoutes(sources, { selector: { resource: { type: 'deploy', name: 'web' } }, to_resource: { type: 'deploy', name: 'books' } }).error?.error ?? '', /--to takes a service/);
  });
});

describe('ListPods', () => {
  it("lists discovery's pods with their last report, and reporting pods discovery does not know", () => {
    const { clock, store, sources } = setUp();
    clock.advance(2_000);
    store.ingest(syntheticReport({ namespace: 'dev', pod: 'solo-1', workload: 'deployment/solo' }));
    const pods = listPods({ ...sources, controlPlaneNamespace: 'sluice' }, { namespace: '' }).pods ?? [];
    const web = pods.find((p) => p.name === 'shop/web-1');
    assert.equal(web?.deployment, 'shop/web');
    assert.equal(web?.workload, 'deployment/web');
    assert.equal(web?.added, true);
    assert.deepEqual(web?.sinceLastReport, { seconds: 2, nanos: 0 });
    assert.equal(pods.find((p) => p.name === 'shop/legacy-1')?.sinceLastReport, undefined);
    assert.equal(pods.find((p) => p.name === 'dev/solo-1')?.status, 'Running');
    assert.deepEqual(
      listPods({ ...sources, controlPlaneNamespace: 'sluice' }, { namespace: 'other' }).pods?.map((p) => p.name),
      ['other/x-1'],
    );
  });
});

describe('Version and SelfCheck', () => {
  it('reports the release and the Node.js version', () => {
    assert.deepEqual(version(), { goVersion: process.version, buildDate: '', releaseVersion: RELEASE_VERSION });
    assert.match(RELEASE_VERSION, /^\d+\.\d+\.\d+/);
  });

  it('checks discovery, and fails telemetry when meshed pods run but none reports', () => {
    const { clock, sources } = setUp();
    const sources2 = { ...sources, controlPlaneNamespace: 'sluice' };
    assert.deepEqual(
      selfCheck(sources2).results?.map((r) => [r.SubsystemName, r.Status]),
      [
        ['sluice-discovery', 'OK'],
        ['sluice-telemetry', 'OK'],
      ],
    );
    clock.advance(5 * 60_000);
    const silent = selfCheck(sources2).results?.[1];
    assert.equal(silent?.Status, 'FAIL');
    assert.match(silent?.FriendlyMessageToUser ?? '', /none reported in the last minute/);
    const broken = selfCheck({ ...sources2, pods: () => { throw new Error('informer down'); } }).results?.[0];
    assert.deepEqual([broken?.Status, broken?.FriendlyMessageToUser], ['ERROR', 'informer down']);
  });
});
