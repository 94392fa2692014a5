// Tap for the page: its query string becomes a TapByResourceRequest (bad ones are refused with a reason),
// and each TapEvent of the public API's JSON becomes the flat view the page shows.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resourceOfLabels, TapQueryError, tapEventView, tapRequestOf } from './tap-events.ts';

describe('tapRequestOf', () => {
  it('builds the request with the filters as an all-of match, method upper-cased, headers extracted', () => {
    const request = tapRequestOf(new URLSearchParams('type=deployment&namespace=emojivoto&name=web&method=get&path=/api/vote&authority=&maxRps=5'));
    assert.deepEqual(request, {
      target: { resource: { namespace: 'emojivoto', type: 'deployment', name: 'web' }, label_selector: '' },
      maxRps: 5,
      extract: { http: { headers: {} } },
      match: { all: { matches: [{ http: { method: 'GET' } }, { http: { path: '/api/vote' } }] } },
    });
  });

  it('refuses what cannot be tapped, a missing namespace and a bad rate, saying why', () => {
    assert.throws(() => tapRequestOf(new URLSearchParams('type=service&namespace=a&name=b')), (e: unknown) => e instanceof TapQueryError && /cannot tap a "service"/.test(e.message));
    assert.throws(() => tapRequestOf(new URLSearchParams('type=deployment&name=web')), /namespace is required/);
    assert.throws(() => tapRequestOf(new URLSearchParams('type=pod&namespace=a&name=b&maxRps=-1')), /maxRps must be/);
    assert.throws(() => tapRequestOf(new URLSearchParams('type=pod&namespace=a&name=b&maxRps=lots')), /maxRps must be/);
  });
});

describe('tapEventView', () => {
  const sides = {
    source: { ip: { ipv4: 0x7f000001 }, port: 50000 },
    source_meta: { labels: { tls: 'disabled' } },
    destination: { ip: { ipv4: 0x0a000002 }, port: 8080 },
    destination_meta: { labels: { namespace: 'emojivoto', deployment: 'web', pod: 'web-1' } },
    proxy_direction: 'INBOUND',
  };

  it('flattens a request with its headers decoded', () => {
    const view = tapEventView({
      ...sides,
      http: {
        request_init: {
          id: { base: 3, stream: 7 },
          method: { registered: 'GET' },
          scheme: { registered: 'HTTP' },
          authority: 'web-svc:80',
          path: '/api/list',
          headers: { headers: [{ name: 'user-agent', value: Buffer.from('curl').toString('base64') }] },
        },
      },
    });
    assert.deepEqual(view, {
      direction: 'inbound',
      source: '127.0.0.1:50000',
      destination: '10.0.0.2:8080',
      sourceResource: '',
      destinationResource: 'deployment/web',
      tls: 'disabled',
      sourceLabels: { tls: 'disabled' },
      destinationLabels: { namespace: 'emojivoto', deployment: 'web', pod: 'web-1' },
      routeLabels: {},
      id: '3:7',
      kind: 'request',
      method: 'GET',
      scheme: 'http',
      authority: 'web-svc:80',
      path: '/api/list',
      headers: [{ name: 'user-agent', value: 'curl' }],
    });
  });

  it('gives a response its status and latency, and an end its duration, size and gRPC status', () => {
    const response = tapEventView({ ...sides, http: { response_init: { id: { base: 3, stream: 7 }, http_status: 200, since_request_init: { seconds: 0, nanos: 1_500_000 } } } });
    assert.equal(response?.kind, 'response');
    assert.equal(response?.status, 200);
    assert.equal(response?.latencyUs, 1500);
    const end = tapEventView({ ...sides, http: { response_end: { id: { base: 3, stream: 7 }, since_response_init: { seconds: 1, nanos: 0 }, response_bytes: '42', eos: { grpc_status_code: 14 } } } });
    assert.equal(end?.kind, 'end');
    assert.equal(end?.durationUs, 1_000_000);
    assert.equal(end?.responseBytes, 42);
    assert.equal(end?.grpcStatus, 'Unavailable');
    assert.equal(tapEventView({ ...sides }), undefined);
  });

  it('names a resource from the labels, workloads before pods', () => {
    assert.equal(resourceOfLabels({ pod: 'web-1', deployment: 'web' }), 'deployment/web');
    assert.equal(resourceOfLabels({ pod: 'db-0' }), 'pod/db-0');
    assert.equal(resourceOfLabels({}), '');
  });
});
