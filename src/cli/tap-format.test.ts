// Golden strings for `sluice tap` lines (Linkerd's grammar), `-o wide` and `-o json`, and `sluice top`'s
// aggregation and table.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TopTable, formatTapLine, formatTopLatency, grpcCodeName, renderTop, tapEventJson, type TapEventJson } from './tap-format.ts';

const ip4 = (a: number, b: number, c: number, d: number): number => ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;

/** An event as the HTTP/JSON API sends it: every field, null where unset. */
function envelope(direction: 'INBOUND' | 'OUTBOUND', http: object, extra: object = {}): TapEventJson {
  return {
    source: { ip: { ipv4: ip4(10, 42, 0, 30) }, port: 49152 },
    source_meta: { labels: direction === 'INBOUND' ? { tls: 'disabled' } : { pod: 'vote-bot-7f9c', deployment: 'vote-bot', namespace: 'emojivoto' } },
    route_meta: null,
    destination: { ip: { ipv4: ip4(10, 42, 0, 11) }, port: 8080 },
    destination_meta: { labels: direction === 'OUTBOUND' ? { tls: 'disabled', pod: 'web-5d8f', deployment: 'web', namespace: 'emojivoto' } : {} },
    proxy_direction: direction,
    http,
    ...extra,
  } as TapEventJson;
}

const id = { base: 3617384421, stream: 7 };
const requestInit = (direction: 'INBOUND' | 'OUTBOUND', method: object = { registered: 'GET' }): TapEventJson =>
  envelope(direction, {
    request_init: { id, method, scheme: { registered: 'HTTP' }, authority: 'web-svc.emojivoto:80', path: '/api/list', headers: null },
  });
const responseInit = envelope('OUTBOUND', {
  response_init: { id, since_request_init: { seconds: 0, nanos: 1_234_567 }, http_status: 200, headers: null },
});
const responseEnd = (eos: object | null, direction: 'INBOUND' | 'OUTBOUND' = 'OUTBOUND'): TapEventJson =>
  envelope(direction, {
    response_end: {
      id,
      since_request_init: { seconds: 0, nanos: 2_000_000 },
      since_response_init: { seconds: 1, nanos: 765_432_999 },
      response_bytes: 1234,
      eos,
      trailers: null,
    },
  });

describe('tap lines', () => {
  it('request init, outbound and inbound (proxy=in is padded to the width of out)', () => {
    assert.equal(
      formatTapLine(requestInit('OUTBOUND')),
      'req id=3617384421:7 proxy=out src=10.42.0.30:49152 dst=10.42.0.11:8080 tls=disabled :method=GET :authority=web-svc.emojivoto:80 :path=/api/list',
    );
    assert.equal(
      formatTapLine(requestInit('INBOUND', { unregistered: 'PURGE' })),
      'req id=3617384421:7 proxy=in  src=10.42.0.30:49152 dst=10.42.0.11:8080 tls=disabled :method=PURGE :authority=web-svc.emojivoto:80 :path=/api/list',
    );
  });

  it('response init: status and latency in whole microseconds', () => {
    assert.equal(formatTapLine(responseInit), 'rsp id=3617384421:7 proxy=out src=10.42.0.30:49152 dst=10.42.0.11:8080 tls=disabled :status=200 latency=1234µs');
  });

  it('response end: gRPC status by name, reset code, or neither; duration since the response began', () => {
    const flow = 'proxy=out src=10.42.0.30:49152 dst=10.42.0.11:8080 tls=disabled';
    assert.equal(formatTapLine(responseEnd({ grpc_status_code: 0 })), `end id=3617384421:7 ${flow} grpc-status=OK duration=1765432µs response-length=1234B`);
    assert.equal(formatTapLine(responseEnd({ grpc_status_code: 14 })), `end id=3617384421:7 ${flow} grpc-status=Unavailable duration=1765432µs response-length=1234B`);
    assert.equal(formatTapLine(responseEnd({ reset_error_code: 8 })), `end id=3617384421:7 ${flow} reset-error=8 duration=1765432µs response-length=1234B`);
    assert.equal(formatTapLine(responseEnd(null)), `end id=3617384421:7 ${flow} duration=1765432µs response-length=1234B`);
  });

  it('reads grpc-js objects too (uint64 as strings, IPv6 halves as strings, no nulls)', () => {
    const event: TapEventJson = {
      source: { ip: { ipv6: { first: '0', last: '1' } }, port: 40000 },
      destination: { ip: { ipv6: { first: String(0xfd000000n << 32n), last: '17' } }, port: 80 },
      destination_meta: { labels: { tls: 'disabled' } },
      proxy_direction: 'OUTBOUND',
      http: { response_end: { id: { base: 1, stream: '18446744073709551615' }, since_response_init: { seconds: '2', nanos: 999 }, response_bytes: '0' } },
    };
    assert.equal(
      formatTapLine(event),
      'end id=1:18446744073709551615 proxy=out src=[::1]:40000 dst=[fd00::11]:80 tls=disabled duration=2000000µs response-length=0B',
    );
  });

  it('-o wide appends each side’s labels and the route’s, sorted', () => {
    const event = envelope(
      'OUTBOUND',
      { response_init: { id, since_request_init: { seconds: 0, nanos: 5000 }, http_status: 503 } },
      { route_meta: { labels: { route: 'GET /api/list' } } },
    );
    assert.equal(
      formatTapLine(event, true),
      'rsp id=3617384421:7 proxy=out src=10.42.0.30:49152 dst=10.42.0.11:8080 tls=disabled :status=503 latency=5µs' +
        ' src_deployment=vote-bot src_namespace=emojivoto src_pod=vote-bot-7f9c' +
        ' dst_deployment=web dst_namespace=emojivoto dst_pod=web-5d8f dst_tls=disabled' +
        ' rt_route=GET /api/list',
    );
  });

  it('-o json: Linkerd’s keys, headers as text', () => {
    const event = envelope('INBOUND', {
      request_init: {
        id,
        method: { registered: 'POST' },
        scheme: { registered: 'HTTP' },
        authority: 'a',
        path: '/p',
        headers: { headers: [{ name: 'x-a', value: Buffer.from('ünï').toString('base64') }] },
      },
    });
    assert.deepEqual(tapEventJson(event), {
      source: { ip: '10.42.0.30', port: 49152, metadata: { tls: 'disabled' } },
      destination: { ip: '10.42.0.11', port: 8080, metadata: {} },
      routeMeta: null,
      proxyDirection: 'INBOUND',
      requestInitEvent: { id: { base: 3617384421, stream: 7 }, method: 'POST', scheme: 'http', authority: 'a', path: '/p', headers: [{ name: 'x-a', value: 'ünï' }] },
    });
    const end = tapEventJson(responseEnd({ grpc_status_code: 5 }))['responseEndEvent'];
    assert.deepEqual(end, {
      id: { base: 3617384421, stream: 7 },
      sinceRequestInit: { micros: 2000 },
      sinceResponseInit: { micros: 1765432 },
      responseBytes: 1234,
      trailers: [],
      grpcStatusCode: 5,
    });
  });

  it('names gRPC codes as Go does', () => {
    assert.deepEqual([0, 1, 4, 16, 17].map(grpcCodeName), ['OK', 'Canceled', 'DeadlineExceeded', 'Unauthenticated', 'Code(17)']);
  });
});

/** A whole request: init, response, end. */
function request(stream: number, path: string, status: number, latencyUs: number, eos: object | null = null, pod = 'web-5d8f'): TapEventJson[] {
  const ids = { base: 1, stream };
  const base = (http: object): TapEventJson =>
    envelope('OUTBOUND', http, { destination_meta: { labels: { pod, tls: 'disabled' } }, source_meta: { labels: { pod: 'vote-bot-7f9c' } } });
  return [
    base({ request_init: { id: ids, method: { registered: 'GET' }, authority: 'web', path } }),
    base({ response_init: { id: ids, since_request_init: { nanos: 1000 }, http_status: status } }),
    base({ response_end: { id: ids, since_request_init: { seconds: Math.floor(latencyUs / 1e6), nanos: (latencyUs % 1e6) * 1000 }, eos } }),
  ];
}

describe('top', () => {
  it('groups completed requests by source, destination, method and path; best, worst, last, success', () => {
    const table = new TopTable();
    const events = [
      ...request(1, '/api/list', 200, 1500),
      ...request(2, '/api/list', 200, 900),
      ...request(3, '/api/vote', 500, 12_000),
      ...request(4, '/api/list', 200, 2_345_678, { grpc_status_code: 14 }),
      ...request(5, '/api/vote', 200, 700, { grpc_status_code: 5 }),
      ...request(6, '/api/list', 200, 100, null, 'web-other'),
    ];
    // An event of a request whose start was never seen is ignored.
    table.add(request(9, '/lost', 200, 1)[2] as TapEventJson);
    for (const e of events) table.add(e);
    assert.equal(
      renderTop(table.rows()),
      [
        'Source         Destination  Method  Path       Count   Best   Worst    Last  Success Rate',
        'vote-bot-7f9c  web-5d8f     GET     /api/list      3  900µs  2.346s  2.346s        66.67%',
        'vote-bot-7f9c  web-5d8f     GET     /api/vote      2  700µs    12ms   700µs        50.00%',
        'vote-bot-7f9c  web-other    GET     /api/list      1  100µs   100µs   100µs       100.00%',
        '',
      ].join('\n'),
    );
    assert.equal(
      renderTop(table.rows(), { hideSources: true, limit: 1, maxPath: 6 }),
      ['Destination  Method  Path    Count   Best   Worst    Last  Success Rate', 'web-5d8f     GET     /api/…      3  900µs  2.346s  2.346s        66.67%', ''].join('\n'),
    );
  });

  it('names a peer by address when no pod is known, and formats latencies as Go durations', () => {
    const table = new TopTable();
    for (const e of request(1, '/', 200, 5)) table.add({ ...e, source_meta: null, destination_meta: null });
    assert.equal(table.rows()[0]?.source, '10.42.0.30');
    assert.equal(table.rows()[0]?.destination, '10.42.0.11');
    assert.deepEqual([0, 999, 1000, 1499, 999_999, 1_000_000, 1_500_000, 61_000_000].map(formatTopLatency), ['0µs', '999µs', '1ms', '1ms', '1s', '1s', '1.5s', '61s']);
  });
});
