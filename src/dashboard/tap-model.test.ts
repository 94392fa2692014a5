// Tap's events become requests (request, response and end joined by stream id and both addresses),
// the list stays bounded, and top groups finished requests with Linkerd's failure rules.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TapEventView } from '../api/dashboard-messages.ts';
import { failed, TapRequests, topRows } from './tap-model.ts';

function event(kind: TapEventView['kind'], id: string, fields: Partial<TapEventView> = {}, source = '10.0.0.1:5000'): TapEventView {
  return {
    id,
    kind,
    direction: 'inbound',
    source,
    destination: '10.0.0.2:80',
    sourceResource: 'deployment/web',
    destinationResource: 'deployment/voting',
    tls: 'true',
    sourceLabels: {},
    destinationLabels: {},
    routeLabels: {},
    ...fields,
  };
}

function request(store: TapRequests, id: string, path: string, status: number, latencyUs: number, source?: string, grpcStatus?: string): void {
  store.add(event('request', id, { method: 'POST', path }, source));
  store.add(event('response', id, { status, latencyUs }, source));
  store.add(event('end', id, { durationUs: 0, ...(grpcStatus === undefined ? {} : { grpcStatus }) }, source));
}

describe('tapped requests', () => {
  it('joins the three events of a request, newest request first, apart per connection', () => {
    const store = new TapRequests();
    store.add(event('request', '1:1', { path: '/a' }));
    store.add(event('request', '1:1', { path: '/b' }, '10.0.0.9:6000'));
    store.add(event('response', '1:1', { status: 200 }));
    assert.equal(store.requests.length, 2);
    assert.equal(store.requests[0]?.request?.path, '/b');
    assert.equal(store.requests[0]?.response, undefined);
    assert.equal(store.requests[1]?.response?.status, 200);
  });

  it('keeps at most `limit` requests', () => {
    const store = new TapRequests(3);
    for (let i = 0; i < 5; i++) request(store, `1:${i}`, `/p${i}`, 200, 10);
    assert.deepEqual(store.requests.map((r) => r.request?.path), ['/p4', '/p3', '/p2']);
    store.clear();
    assert.equal(store.requests.length, 0);
  });

  it('counts 5xx, failing gRPC statuses and resets as failures', () => {
    const store = new TapRequests();
    request(store, '1:1', '/ok', 200, 10);
    request(store, '1:2', '/err', 503, 10);
    request(store, '1:3', '/grpc', 200, 10, undefined, 'Unavailable');
    request(store, '1:4', '/grpc', 200, 10, undefined, 'NotFound');
    assert.deepEqual(store.requests.map(failed), [false, true, true, false]);
  });

  it('builds top: most frequent first, best/worst/last latency and success', () => {
    const store = new TapRequests();
    request(store, '1:1', '/vote?choice=a', 200, 100);
    request(store, '1:2', '/vote?choice=b', 500, 300);
    request(store, '1:3', '/vote?choice=c', 200, 200);
    request(store, '1:4', '/list', 200, 50);
    const [vote, list] = topRows(store.requests);
    assert.deepEqual(vote, { source: 'deployment/web', destination: 'deployment/voting', method: 'POST', path: '/vote', count: 3, failures: 1, bestUs: 100, worstUs: 300, lastUs: 200 });
    assert.equal(list?.count, 1);
  });
});
