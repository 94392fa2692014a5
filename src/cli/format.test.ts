// Golden strings for the CLI's number formats, tables and `stat` / `routes` output.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RouteTable, StatRow } from '../api/public-messages.ts';
import { formatByteRate, formatLatency, formatMeshed, formatRps, formatSecured, formatSuccess, renderTable, windowSeconds } from './format.ts';
import { renderEdges } from './edges.ts';
import { renderRoutes, serviceOf } from './routes.ts';
import { renderStat } from './stat.ts';

describe('number formats (as Linkerd prints them)', () => {
  it('success rate: %.2f%%, or - without responses', () => {
    assert.equal(formatSuccess(19, 1), '95.00%');
    assert.equal(formatSuccess(1, 0), '100.00%');
    assert.equal(formatSuccess(2, 1), '66.67%');
    assert.equal(formatSuccess(0, 3), '0.00%');
    assert.equal(formatSuccess(0, 0), '-');
  });

  it('secured: the share of requests over mTLS, %.f%% as Conduit\'s TLS column, or - without requests', () => {
    assert.equal(formatSecured(180, 180), '100%');
    assert.equal(formatSecured(0, 180), '0%');
    assert.equal(formatSecured(119, 180), '66%');
    assert.equal(formatSecured(5, 4), '100%');
    assert.equal(formatSecured(0, 0), '-');
  });

  it('rate: %.1frps', () => {
    assert.equal(formatRps(120, 60), '2.0rps');
    assert.equal(formatRps(1, 60), '0.0rps');
    assert.equal(formatRps(100, 30), '3.3rps');
  });

  it('latency: %dms, whole milliseconds', () => {
    assert.equal(formatLatency(5), '5ms');
    assert.equal(formatLatency(0), '0ms');
    assert.equal(formatLatency(12.9), '12ms');
    assert.equal(formatLatency(undefined), '-');
  });

  it('meshed/running, bytes per second, windows', () => {
    assert.equal(formatMeshed(1, 2), '1/2');
    assert.equal(formatByteRate(1536, 60), '25.6B/s');
    assert.equal(windowSeconds('10s'), 10);
    assert.equal(windowSeconds('1m'), 60);
    assert.equal(windowSeconds('10m'), 600);
    assert.equal(windowSeconds('1h'), 3600);
    assert.equal(windowSeconds('1d'), undefined);
  });

  it('tables: names left-aligned, numbers right-aligned, three spaces apart, no trailing spaces', () => {
    const text = renderTable(
      [
        { header: 'NAME', align: 'left' },
        { header: 'RPS', align: 'right' },
      ],
      [
        ['web', '10.0rps'],
        ['voting-long-name', '0.5rps'],
      ],
    );
    assert.equal(text, 'NAME                   RPS\nweb                10.0rps\nvoting-long-name    0.5rps\n');
  });
});

const row = (name: string, fields: Partial<StatRow> = {}): StatRow => ({
  resource: { namespace: 'emojivoto', type: 'deployment', name },
  time_window: '1m',
  meshed_pod_count: 1,
  running_pod_count: 1,
  window_seconds: 60,
  ...fields,
});

const WEB = row('web', {
  stats: { success_count: 171, failure_count: 9, latency_ms_p50: 2, latency_ms_p95: 4, latency_ms_p99: 7, tls_request_count: 120 },
  tcp_stats: { open_connections: 3, read_bytes_total: 61_440, write_bytes_total: 30_720 },
});
const VOTE_BOT = row('vote-bot', { stats: null, tcp_stats: null });
const VOTING = row('voting', {
  meshed_pod_count: 1,
  running_pod_count: 2,
  stats: { success_count: 44, failure_count: 16, latency_ms_p50: 1, latency_ms_p95: 1, latency_ms_p99: 1 },
  tcp_stats: { open_connections: 1, read_bytes_total: 0, write_bytes_total: 0 },
});

describe('sluice edges output (Linkerd 2.4+)', () => {
  const edges = [
    {
      src: { namespace: 'emojivoto', type: 'deployment', name: 'web' },
      dst: { namespace: 'emojivoto', type: 'deployment', name: 'emoji' },
      client_id: 'web.emojivoto.serviceaccount.identity.sluice.cluster.local',
      server_id: 'emoji.emojivoto.serviceaccount.identity.sluice.cluster.local',
      no_identity_msg: '',
      secured: true,
    },
    {
      src: { namespace: 'emojivoto', type: 'deployment', name: 'vote-bot' },
      dst: { namespace: 'emojivoto', type: 'deployment', name: 'web' },
      client_id: '',
      server_id: '',
      no_identity_msg: 'not_provided_by_service_discovery',
      secured: false,
    },
  ];

  it('table: SRC DST SRC_NS DST_NS SECURED', () => {
    assert.equal(
      renderEdges(edges, 'table'),
      [
        'SRC        DST     SRC_NS      DST_NS      SECURED',
        'web        emoji   emojivoto   emojivoto   √',
        'vote-bot   web     emojivoto   emojivoto   ×',
        '',
      ].join('\n'),
    );
  });

  it('wide adds CLIENT_ID, SERVER_ID and why an edge is not secured', () => {
    const lines = renderEdges(edges, 'wide').split('\n');
    assert.match(lines[0] ?? '', /^SRC +DST +SRC_NS +DST_NS +SECURED +CLIENT_ID +SERVER_ID +MSG$/);
    assert.match(lines[1] ?? '', /√ +web\.emojivoto\.serviceaccount\.identity\.sluice\.cluster\.local +emoji\.emojivoto\S+$/);
    assert.match(lines[2] ?? '', /× +- +- +not_provided_by_service_discovery$/);
  });

  it('json, and nothing without edges', () => {
    const rows = JSON.parse(renderEdges(edges, 'json')) as Array<Record<string, unknown>>;
    assert.deepEqual(rows[0], {
      src: 'web',
      src_namespace: 'emojivoto',
      dst: 'emoji',
      dst_namespace: 'emojivoto',
      client_id: 'web.emojivoto.serviceaccount.identity.sluice.cluster.local',
      server_id: 'emoji.emojivoto.serviceaccount.identity.sluice.cluster.local',
      secured: true,
      no_identity_msg: '',
    });
    assert.equal(renderEdges([], 'table'), '');
  });
});

describe('sluice stat output', () => {
  it('table', () => {
    assert.equal(
      renderStat([{ type: 'deployment', rows: [VOTE_BOT, VOTING, WEB] }], { output: 'table', allNamespaces: false, window: '1m' }),
      [
        'NAME       MESHED   SUCCESS      RPS   LATENCY_P50   LATENCY_P95   LATENCY_P99   TCP_CONN',
        'vote-bot      1/1         -        -             -             -             -          -',
        'voting        1/2    73.33%   1.0rps           1ms           1ms           1ms          1',
        'web           1/1    95.00%   3.0rps           2ms           4ms           7ms          3',
        '',
      ].join('\n'),
    );
  });

  it('wide, every namespace', () => {
    assert.equal(
      renderStat([{ type: 'deployment', rows: [WEB] }], { output: 'wide', allNamespaces: true, window: '1m' }),
      [
        'NAMESPACE   NAME   MESHED   SUCCESS      RPS   LATENCY_P50   LATENCY_P95   LATENCY_P99   TCP_CONN   READ_BYTES/SEC   WRITE_BYTES/SEC   SECURED',
        'emojivoto   web       1/1    95.00%   3.0rps           2ms           4ms           7ms          3        1024.0B/s          512.0B/s       67%',
        '',
      ].join('\n'),
    );
  });

  it('json: secured as a 0–1 share of the requests, null without traffic', () => {
    const rows = JSON.parse(renderStat([{ type: 'deployment', rows: [VOTE_BOT, WEB] }], { output: 'json', allNamespaces: false, window: '1m' })) as Array<Record<string, unknown>>;
    assert.deepEqual(
      rows.map((r) => [r['name'], r['secured']]),
      [
        ['vote-bot', null],
        ['web', 120 / 180],
      ],
    );
  });

  it('pods get a STATUS column; authorities show - for MESHED', () => {
    const pod = row('web-7d4f-x2', { resource: { namespace: 'emojivoto', type: 'pod', name: 'web-7d4f-x2' }, status: 'Running', stats: WEB.stats ?? null, tcp_stats: WEB.tcp_stats ?? null });
    assert.equal(
      renderStat([{ type: 'pod', rows: [pod] }], { output: 'table', allNamespaces: false, window: '1m' }),
      [
        'NAME          STATUS    MESHED   SUCCESS      RPS   LATENCY_P50   LATENCY_P95   LATENCY_P99   TCP_CONN',
        'web-7d4f-x2   Running      1/1    95.00%   3.0rps           2ms           4ms           7ms          3',
        '',
      ].join('\n'),
    );
    const authority = row('web-svc.emojivoto:80', { meshed_pod_count: 0, running_pod_count: 0, stats: WEB.stats ?? null, tcp_stats: null });
    assert.equal(
      renderStat([{ type: 'authority', rows: [authority] }], { output: 'table', allNamespaces: false, window: '1m' }),
      [
        'NAME                   MESHED   SUCCESS      RPS   LATENCY_P50   LATENCY_P95   LATENCY_P99   TCP_CONN',
        'web-svc.emojivoto:80        -    95.00%   3.0rps           2ms           4ms           7ms          -',
        '',
      ].join('\n'),
    );
  });

  it('several types: one table each, names prefixed with the short type', () => {
    const pod = row('web-1', { resource: { namespace: 'emojivoto', type: 'pod', name: 'web-1' }, status: 'Running', stats: null, tcp_stats: null });
    assert.equal(
      renderStat(
        [
          { type: 'deployment', rows: [VOTE_BOT] },
          { type: 'pod', rows: [pod] },
        ],
        { output: 'table', allNamespaces: false, window: '1m' },
      ),
      [
        'NAME              MESHED   SUCCESS   RPS   LATENCY_P50   LATENCY_P95   LATENCY_P99   TCP_CONN',
        'deploy/vote-bot      1/1         -     -             -             -             -          -',
        '',
        'NAME       STATUS    MESHED   SUCCESS   RPS   LATENCY_P50   LATENCY_P95   LATENCY_P99   TCP_CONN',
        'po/web-1   Running      1/1         -     -             -             -             -          -',
        '',
      ].join('\n'),
    );
  });

  it('json: Linkerd-style keys, null without traffic', () => {
    const parsed = JSON.parse(renderStat([{ type: 'deployment', rows: [WEB, VOTE_BOT] }], { output: 'json', allNamespaces: false, window: '1m' })) as Array<Record<string, unknown>>;
    assert.deepEqual(parsed[0], {
      namespace: 'emojivoto',
      kind: 'deployment',
      name: 'web',
      meshed: '1/1',
      success: 0.95,
      rps: 3,
      latency_ms_p50: 2,
      latency_ms_p95: 4,
      latency_ms_p99: 7,
      latency_us_p50: null,
      latency_us_p95: null,
      latency_us_p99: null,
      secured: 120 / 180,
      tcp_open_connections: 3,
      tcp_read_bytes_rate: 1024,
      tcp_write_bytes_rate: 512,
      time_window: '1m',
    });
    assert.equal(parsed[1]?.['success'], null);
    assert.equal(parsed[1]?.['rps'], null);
  });

  it('nothing to show is an empty string (the command says "No resources found.")', () => {
    assert.equal(renderStat([{ type: 'deployment', rows: [] }], { output: 'table', allNamespaces: false, window: '1m' }), '');
  });
});

describe('sluice routes output', () => {
  const table: RouteTable = {
    resource: 'deployment/webapp',
    rows: [
      {
        route: 'GET /books/{id}.json',
        authority: 'books.default.svc.cluster.local:7002',
        time_window: '1m',
        window_seconds: 60,
        stats: { success_count: 54, failure_count: 6, actual_success_count: 54, actual_failure_count: 12, latency_ms_p50: 3, latency_ms_p95: 9, latency_ms_p99: 10 },
      },
      { route: '[DEFAULT]', authority: 'books.default.svc.cluster.local:7002', time_window: '1m', window_seconds: 60, stats: null },
    ],
  };

  it('table', () => {
    assert.equal(
      renderRoutes([table], 'table', '1m'),
      [
        'ROUTE                  SERVICE   SUCCESS      RPS   LATENCY_P50   LATENCY_P95   LATENCY_P99',
        'GET /books/{id}.json   books      90.00%   1.0rps           3ms           9ms          10ms',
        '[DEFAULT]              books           -        -             -             -             -',
        '',
      ].join('\n'),
    );
  });

  it('wide: effective and actual', () => {
    assert.equal(
      renderRoutes([table], 'wide', '1m'),
      [
        'ROUTE                  SERVICE   EFFECTIVE_SUCCESS   EFFECTIVE_RPS   ACTUAL_SUCCESS   ACTUAL_RPS   LATENCY_P50   LATENCY_P95   LATENCY_P99',
        'GET /books/{id}.json   books                90.00%          1.0rps           81.82%       1.1rps           3ms           9ms          10ms',
        '[DEFAULT]              books                     -               -                -            -             -             -             -',
        '',
      ].join('\n'),
    );
  });

  it('names the service of an authority', () => {
    assert.equal(serviceOf('books.default.svc.cluster.local:7002'), 'books');
    assert.equal(serviceOf('books:80'), 'books');
    assert.equal(serviceOf('10.0.0.7:8080'), '10.0.0.7:8080');
    assert.equal(serviceOf('[::1]:8080'), '[::1]:8080');
  });
});
