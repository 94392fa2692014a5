// The proxy's metric families with Linkerd's names and labels, and how a response is classified.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { renderPrometheus } from './metrics.ts';
import {
  LABEL_VALUE_BUDGET,
  ProxyMetrics,
  TLS_NOT_DISCOVERED,
  TLS_NOT_FROM_REMOTE,
  clientTlsLabels,
  serverTlsLabels,
  targetLabels,
} from './proxy-metrics.ts';

const TARGET = { host: '10.0.0.9', port: 8080 };
const BASE = 'direction="outbound",authority="web:8080",target_addr="10.0.0.9:8080",target_ip="10.0.0.9",target_port="8080",tls="disabled"';

/** The sample lines of one metric name in the rendered text. */
function lines(metrics: ProxyMetrics, name: string): string[] {
  return renderPrometheus(metrics.registry.snapshot())
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
}

describe('targetLabels', () => {
  it('labels a target with its address, IP and port', () => {
    assert.equal(targetLabels(TARGET), 'target_addr="10.0.0.9:8080",target_ip="10.0.0.9",target_port="8080"');
  });

  it('brackets an IPv6 target_addr', () => {
    assert.equal(targetLabels({ host: 'fd00::9', port: 80 }), 'target_addr="[fd00::9]:80",target_ip="fd00::9",target_port="80"');
  });

  it('leaves the labels empty when there is no target', () => {
    assert.equal(targetLabels(undefined), 'target_addr="",target_ip="",target_port=""');
  });
});

describe('HttpStats', () => {
  it('counts requests under direction, authority, target and tls="disabled"', () => {
    const metrics = new ProxyMetrics();
    const stats = metrics.http('outbound', 'web:8080', TARGET);
    stats.request();
    stats.request();
    assert.deepEqual(lines(metrics, 'request_total'), [`request_total{${BASE}} 2`]);
  });

  it('labels mesh TLS as Linkerd does: server_id outbound, client_id inbound, no_identity with its reason otherwise', () => {
    const metrics = new ProxyMetrics();
    const id = 'web.default.serviceaccount.identity.sluice.cluster.local';
    metrics.http('outbound', 'web:8080', TARGET, 'dst_pod="web-0"', serverTlsLabels(id)).request();
    metrics.http('inbound', 'web:8080', TARGET, '', clientTlsLabels('client.default.serviceaccount.identity.sluice.cluster.local')).request();
    metrics.http('inbound', 'web:8080', TARGET, '', clientTlsLabels(undefined)).request();
    metrics.http('inbound', 'web:8080', TARGET, '', TLS_NOT_FROM_REMOTE).request();
    metrics.http('outbound', 'web:8080', TARGET, '', TLS_NOT_DISCOVERED).request();
    const target = 'target_addr="10.0.0.9:8080",target_ip="10.0.0.9",target_port="8080"';
    assert.deepEqual(lines(metrics, 'request_total').sort(), [
      `request_total{direction="inbound",authority="web:8080",${target},tls="no_identity",no_tls_reason="no_tls_from_remote"} 1`,
      `request_total{direction="inbound",authority="web:8080",${target},tls="true",client_id="client.default.serviceaccount.identity.sluice.cluster.local"} 1`,
      `request_total{direction="inbound",authority="web:8080",${target},tls="true"} 1`,
      `request_total{direction="outbound",authority="web:8080",${target},tls="no_identity",no_tls_reason="not_provided_by_service_discovery"} 1`,
      `request_total{direction="outbound",authority="web:8080",${target},tls="true",server_id="${id}",dst_pod="web-0"} 1`,
    ]);
    assert.notEqual(metrics.tcp('outbound', 'dst', TARGET, serverTlsLabels(id)), metrics.tcp('outbound', 'dst', TARGET));
  });

  it('hands out one stats object per direction, authority and target', () => {
    const metrics = new ProxyMetrics();
    const a = metrics.http('outbound', 'web:8080', TARGET);
    assert.equal(metrics.http('outbound', 'web:8080', TARGET), a);
    assert.notEqual(metrics.http('inbound', 'web:8080', TARGET), a);
    assert.notEqual(metrics.http('outbound', 'api:8080', TARGET), a);
    assert.notEqual(metrics.http('outbound', 'web:8080', undefined), a);
  });

  const classify = (status: number, grpc: number, error = ''): string => {
    const metrics = new ProxyMetrics();
    metrics.http('outbound', 'web:8080', TARGET).response(status, grpc, 1, error);
    const [line] = lines(metrics, 'response_total');
    assert.ok(line !== undefined);
    return line;
  };

  it('classifies HTTP responses below 500 as success, with empty grpc_status and error labels', () => {
    for (const status of [101, 200, 204, 301, 404, 499]) {
      assert.equal(
        classify(status, -1),
        `response_total{${BASE},status_code="${status}",classification="success",grpc_status="",error=""} 1`,
      );
    }
  });

  it('classifies 5xx responses as failure', () => {
    for (const status of [500, 502, 503, 504, 599]) {
      assert.match(classify(status, -1), new RegExp(`status_code="${status}",classification="failure",grpc_status="",error=""`));
    }
  });

  it('classifies gRPC by grpc-status: 0 is success, any other code is failure even with HTTP 200', () => {
    assert.match(classify(200, 0), /status_code="200",classification="success",grpc_status="0",error=""/);
    for (const code of [1, 2, 4, 13, 14, 16]) {
      assert.match(classify(200, code), new RegExp(`status_code="200",classification="failure",grpc_status="${code}"`));
    }
  });

  it('lets grpc-status decide over the HTTP status when a gRPC response has one (as Linkerd does)', () => {
    assert.match(classify(500, 0), /classification="success",grpc_status="0"/);
  });

  it('classifies a proxy-synthesized error as failure and names it in the error label', () => {
    assert.equal(
      classify(502, -1, 'connect_refused'),
      `response_total{${BASE},status_code="502",classification="failure",grpc_status="",error="connect_refused"} 1`,
    );
    // gRPC clients get the error as a trailers-only HTTP 200: still a failure.
    assert.match(classify(200, 14, 'connect_refused'), /status_code="200",classification="failure",grpc_status="14",error="connect_refused"/);
    assert.match(classify(200, -1, 'no_target'), /classification="failure",grpc_status="",error="no_target"/);
  });

  it('keeps one series per status, grpc status and error, and counts into it', () => {
    const metrics = new ProxyMetrics();
    const stats = metrics.http('outbound', 'web:8080', TARGET);
    stats.response(200, -1, 1);
    stats.response(200, -1, 2);
    stats.response(200, 0, 3);
    stats.response(503, -1, 4);
    stats.response(502, -1, 5, 'connect_refused');
    stats.response(502, -1, 6, 'connect_refused');
    stats.response(502, -1, 7, 'upstream_reset');
    assert.deepEqual(
      lines(metrics, 'response_total').map((l) => l.slice(BASE.length + 'response_total{,'.length)),
      [
        'status_code="200",classification="success",grpc_status="",error=""} 2',
        'status_code="200",classification="success",grpc_status="0",error=""} 1',
        'status_code="503",classification="failure",grpc_status="",error=""} 1',
        'status_code="502",classification="failure",grpc_status="",error="connect_refused"} 2',
        'status_code="502",classification="failure",grpc_status="",error="upstream_reset"} 1',
      ],
    );
  });

  it("files a profile route's classification apart from the default one and from each other", () => {
    const metrics = new ProxyMetrics();
    const stats = metrics.http('outbound', 'web:8080', TARGET);
    stats.response(200, -1, 1, '', true); // the route calls this 200 a failure
    stats.response(200, -1, 1, '', true);
    stats.response(200, -1, 1, '', false);
    stats.response(200, -1, 1);
    stats.response(500, -1, 1, '', false); // and this 500 a success
    assert.deepEqual(
      lines(metrics, 'response_total').map((l) => l.slice(BASE.length + 'response_total{,'.length)),
      [
        'status_code="200",classification="failure",grpc_status="",error=""} 2',
        'status_code="200",classification="success",grpc_status="",error=""} 2',
        'status_code="500",classification="success",grpc_status="",error=""} 1',
      ],
    );
  });

  it('never files a response under the series of another grpc status, even for codes beyond 30', () => {
    const metrics = new ProxyMetrics();
    const stats = metrics.http('outbound', 'web:8080', TARGET);
    stats.response(200, -1, 1);
    stats.response(200, 31, 1);
    stats.response(200, 1, 1);
    stats.response(200, 33, 1);
    const series = lines(metrics, 'response_total').map((l) => /grpc_status="([^"]*)".*\} (\d+)$/.exec(l)?.slice(1));
    assert.deepEqual(series, [
      ['', '1'],
      ['31', '1'],
      ['1', '1'],
      ['33', '1'],
    ]);
  });

  it('records response latency per status code in response_latency_ms', () => {
    const metrics = new ProxyMetrics();
    const stats = metrics.http('outbound', 'web:8080', TARGET);
    stats.response(200, -1, 3);
    stats.response(200, 0, 40);
    stats.response(502, -1, 2, 'connect_refused');
    const counts = lines(metrics, 'response_latency_ms_count');
    assert.deepEqual(counts, [
      `response_latency_ms_count{${BASE},status_code="200"} 2`,
      `response_latency_ms_count{${BASE},status_code="502"} 1`,
    ]);
    assert.ok(lines(metrics, 'response_latency_ms_bucket').includes(`response_latency_ms_bucket{${BASE},status_code="200",le="3"} 1`));
    assert.ok(lines(metrics, 'response_latency_ms_sum').includes(`response_latency_ms_sum{${BASE},status_code="200"} 43`));
  });

  it('escapes an authority that carries quotes, backslashes or newlines', () => {
    const metrics = new ProxyMetrics();
    metrics.http('inbound', 'evil"\\\nhost', undefined).request();
    assert.deepEqual(lines(metrics, 'request_total'), [
      'request_total{direction="inbound",authority="evil\\"\\\\\\nhost",target_addr="",target_ip="",target_port="",tls="disabled"} 1',
    ]);
  });
});

describe('TcpStats', () => {
  it('counts opens, open connections, bytes and closes by errno, labelled by peer', () => {
    const metrics = new ProxyMetrics();
    const tcp = metrics.tcp('inbound', 'src', TARGET);
    assert.equal(metrics.tcp('inbound', 'src', TARGET), tcp);
    tcp.opened.inc();
    tcp.opened.inc();
    tcp.open.inc();
    tcp.open.inc();
    tcp.open.inc(-1);
    tcp.readBytes.inc(100);
    tcp.writeBytes.inc(250);
    tcp.closed('');
    tcp.closed('ECONNRESET');
    tcp.closed('ECONNRESET');
    const base = 'direction="inbound",peer="src",target_addr="10.0.0.9:8080",target_ip="10.0.0.9",target_port="8080",tls="disabled"';
    assert.deepEqual(lines(metrics, 'tcp_open_total'), [`tcp_open_total{${base}} 2`]);
    assert.deepEqual(lines(metrics, 'tcp_open_connections'), [`tcp_open_connections{${base}} 1`]);
    assert.deepEqual(lines(metrics, 'tcp_read_bytes_total'), [`tcp_read_bytes_total{${base}} 100`]);
    assert.deepEqual(lines(metrics, 'tcp_write_bytes_total'), [`tcp_write_bytes_total{${base}} 250`]);
    assert.deepEqual(lines(metrics, 'tcp_close_total'), [
      `tcp_close_total{${base},errno=""} 1`,
      `tcp_close_total{${base},errno="ECONNRESET"} 2`,
    ]);
  });

  it('declares tcp_open_connections a gauge and the others counters', () => {
    const text = renderPrometheus(new ProxyMetrics().registry.snapshot());
    assert.equal(text, '\n', 'families without series are not rendered');
    const kinds = Object.fromEntries(new ProxyMetrics().registry.snapshot().map((f) => [f.name, f.kind]));
    assert.equal(kinds['tcp_open_connections'], 'gauge');
    for (const name of ['tcp_open_total', 'tcp_close_total', 'tcp_read_bytes_total', 'tcp_write_bytes_total', 'request_total', 'response_total']) {
      assert.equal(kinds[name], 'counter', name);
    }
    assert.equal(kinds['response_latency_ms'], 'histogram');
  });
});

describe('other families', () => {
  it('counts protocol detection outcomes by direction, protocol and reason', () => {
    const metrics = new ProxyMetrics();
    metrics.detected('inbound', 'opaque', 'read_timeout');
    metrics.detected('inbound', 'opaque', 'read_timeout');
    assert.deepEqual(lines(metrics, 'protocol_detect_total'), [
      'protocol_detect_total{direction="inbound",protocol="opaque",reason="read_timeout"} 2',
    ]);
  });

  it('counts TLS passthrough by SNI', () => {
    const metrics = new ProxyMetrics();
    metrics.tlsPassthrough('outbound', 'api.example.com');
    assert.deepEqual(lines(metrics, 'tls_passthrough_total'), [
      'tls_passthrough_total{direction="outbound",sni="api.example.com"} 1',
    ]);
  });

  it('counts HTTP errors per direction in inbound_http_errors_total and outbound_http_errors_total', () => {
    const metrics = new ProxyMetrics();
    metrics.httpError('inbound', 'header_timeout');
    metrics.httpError('outbound', 'connect_refused');
    metrics.httpError('outbound', 'connect_refused');
    assert.deepEqual(lines(metrics, 'inbound_http_errors_total'), ['inbound_http_errors_total{error="header_timeout"} 1']);
    assert.deepEqual(lines(metrics, 'outbound_http_errors_total'), ['outbound_http_errors_total{error="connect_refused"} 2']);
  });
});

describe('label values a client controls are bounded', () => {
  it('counts requests for authorities past the budget under __overflow__, and says so', () => {
    const m = new ProxyMetrics();
    const target = { host: '10.0.0.1', port: 80 };
    for (let i = 0; i < LABEL_VALUE_BUDGET + 500; i++) m.http('inbound', `host-${i}.example`, target).request();
    // A known authority keeps its own series after the budget ran out.
    m.http('inbound', 'host-0.example', target).request();
    const text = renderPrometheus(m.registry.snapshot());
    const series = text.split('\n').filter((line) => line.startsWith('request_total{'));
    assert.equal(series.length, LABEL_VALUE_BUDGET + 1, 'one series per admitted authority, plus the overflow one');
    assert.match(text, /request_total\{direction="inbound",authority="__overflow__",[^}]*\} 500\n/);
    assert.match(text, /request_total\{direction="inbound",authority="host-0.example",[^}]*\} 2\n/);
    assert.match(text, /metric_label_overflow_total\{label="authority"\} 500\n/);
  });

  it('bounds TLS SNIs and target addresses too', () => {
    const m = new ProxyMetrics();
    for (let i = 0; i < LABEL_VALUE_BUDGET + 10; i++) {
      m.tlsPassthrough('outbound', `sni-${i}.example`);
      m.tcp('outbound', 'dst', { host: '10.1.0.1', port: 1000 + i }).opened.inc();
    }
    const text = renderPrometheus(m.registry.snapshot());
    assert.match(text, /tls_passthrough_total\{direction="outbound",sni="__overflow__"\} 10\n/);
    assert.match(text, /tcp_open_total\{direction="outbound",peer="dst",target_addr="__overflow__"[^}]*\} 10\n/);
  });
});
