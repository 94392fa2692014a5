// ServiceProfile routes through the real proxy, with a fake Destination service: retries of retryable
// routes within the budget (and not for other routes, nor bodies over 64 KiB, nor once the budget is
// spent), per-route timeouts, and the route_* metrics that count them.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { send, startBackend, type Backend } from '../../../../test/support/backends.ts';
import { FakeDestination } from '../../../../test/support/fake-destination.ts';
import { closeServer, listen } from '../../../../test/support/net.ts';
import { metricValue, startProxy, type RunningProxy } from '../../../../test/support/proxy.ts';

const BOOKS = 'books.default.svc.cluster.local';
const BOOKS_AUTH = `${BOOKS}:80`;
const STINGY = 'stingy.default.svc.cluster.local';

/** A backend that fails every other request (odd ones get 500), and reports the body size it read. */
function alternating(): { server: http.Server; hits: () => number } {
  let n = 0;
  const server = http.createServer((req, res) => {
    let bytes = 0;
    req.on('data', (c: Buffer) => (bytes += c.length));
    req.on('end', () => {
      n++;
      res.writeHead(n % 2 === 1 ? 500 : 200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ n, bytes }));
    });
  });
  return { server, hits: () => n };
}

describe('profile routes: retries and timeouts', () => {
  let fake: FakeDestination;
  let flaky: ReturnType<typeof alternating>;
  let slow: Backend;
  let broken: Backend;
  let proxy: RunningProxy;

  before(async () => {
    fake = await FakeDestination.start();
    flaky = alternating();
    const flakyPort = await listen(flaky.server);
    slow = await startBackend('slow');
    broken = await startBackend('broken');
    fake.setEndpoints(BOOKS_AUTH, [{ host: '127.0.0.1', port: flakyPort }]);
    fake.setProfile(BOOKS_AUTH, {
      routes: [
        { name: 'GET /flaky', condition: { method: 'GET', pathRegex: '/flaky' }, isRetryable: true },
        { name: 'GET /fragile', condition: { method: 'GET', pathRegex: '/fragile' } },
        { name: 'POST /upload', condition: { method: 'POST', pathRegex: '/upload' }, isRetryable: true },
      ],
    });
    fake.setEndpoints('slow.default.svc.cluster.local:80', [{ host: '127.0.0.1', port: slow.port }]);
    fake.setProfile('slow.default.svc.cluster.local:80', {
      routes: [{ name: 'slow', condition: { pathRegex: '/slow.*' }, timeoutMs: 200 }],
    });
    // Retries are earned only by traffic: one per two requests, no floor, a window far longer than the test.
    fake.setEndpoints(`${STINGY}:80`, [{ host: '127.0.0.1', port: broken.port }]);
    fake.setProfile(`${STINGY}:80`, {
      routes: [{ name: 'all', condition: { pathRegex: '/.*' }, isRetryable: true }],
      retryBudget: { retryRatio: 0.5, minRetriesPerSecond: 0, ttlMs: 60_000 },
    });
    proxy = await startProxy({
      SLUICE_PROXY_DESTINATION_SVC_ADDR: fake.address,
      // These tests are about retries: keep failure accrual out of the way.
      SLUICE_PROXY_OUTBOUND_FAILURE_ACCRUAL_CONSECUTIVE_MAX_FAILURES: '0',
    });
  });
  after(async () => {
    await proxy.stop();
    await fake.stop();
    await closeServer(flaky.server);
    await slow.close();
    await broken.close();
  });

  it('makes a route that fails half the time succeed, by retrying it', async () => {
    const before = flaky.hits();
    for (let i = 0; i < 20; i++) {
      const reply = await send(proxy.outbound.port, BOOKS, { path: '/flaky' });
      assert.equal(reply.status, 200, `request ${i}: ${reply.body}`);
    }
    assert.ok(flaky.hits() - before > 20, 'some requests took two attempts');
    const text = await proxy.metrics();
    const labels = { dst: BOOKS_AUTH, rt_route: 'GET /flaky' };
    assert.equal(metricValue(text, 'route_request_total', labels), 20);
    assert.equal(metricValue(text, 'route_response_total', { ...labels, classification: 'success' }), 20);
    assert.equal(metricValue(text, 'route_actual_request_total', labels), flaky.hits() - before);
    assert.ok(metricValue(text, 'route_actual_response_total', { ...labels, classification: 'failure', status_code: '500' }) > 0);
    assert.ok(metricValue(text, 'route_retryable_total', { ...labels, retry: 'retried' }) > 0);
    assert.ok(metricValue(text, 'route_response_latency_ms_count', labels) === 20);
  });

  it('does not retry a route that is not retryable', async () => {
    const before = flaky.hits();
    const statuses = [];
    for (let i = 0; i < 10; i++) statuses.push((await send(proxy.outbound.port, BOOKS, { path: '/fragile' })).status);
    assert.equal(flaky.hits() - before, 10);
    assert.equal(statuses.filter((s) => s === 500).length, 5);
    const text = await proxy.metrics();
    assert.equal(metricValue(text, 'route_response_total', { rt_route: 'GET /fragile', classification: 'failure' }), 5);
    assert.equal(metricValue(text, 'route_retryable_total', { rt_route: 'GET /fragile' }), 0);
  });

  it('replays a small body on retry, but does not retry a body over 64 KiB', async () => {
    // Line the alternation up so the next attempt fails.
    if (flaky.hits() % 2 === 1) await send(proxy.outbound.port, BOOKS, { path: '/fragile' });
    const small = await send(proxy.outbound.port, BOOKS, { path: '/upload', method: 'POST', body: Buffer.alloc(1024, 7) });
    assert.equal(small.status, 200);
    assert.equal(JSON.parse(small.body).bytes, 1024, 'the retried attempt carried the whole body');

    if (flaky.hits() % 2 === 1) await send(proxy.outbound.port, BOOKS, { path: '/fragile' });
    const before = flaky.hits();
    const big = await send(proxy.outbound.port, BOOKS, { path: '/upload', method: 'POST', body: Buffer.alloc(100 * 1024, 7) });
    assert.equal(big.status, 500);
    assert.equal(JSON.parse(big.body).bytes, 100 * 1024);
    assert.equal(flaky.hits() - before, 1, 'one attempt only');
    const text = await proxy.metrics();
    assert.equal(metricValue(text, 'route_retryable_total', { rt_route: 'POST /upload', retry: 'body_too_large' }), 1);
  });

  it('stops retrying when the budget is spent', async () => {
    broken.failNext = 1_000_000;
    const before = broken.seen.length;
    for (let i = 0; i < 20; i++) assert.equal((await send(proxy.outbound.port, STINGY, { path: `/x/${i}` })).status, 500);
    broken.failNext = 0;
    // 20 requests × 0.5 earn 10 retries, and nothing else does.
    assert.equal(broken.seen.length - before, 30);
    const text = await proxy.metrics();
    assert.equal(metricValue(text, 'route_retryable_total', { dst: `${STINGY}:80`, retry: 'retried' }), 10);
    // Every request ends on a failed attempt the budget could not pay for.
    assert.equal(metricValue(text, 'route_retryable_total', { dst: `${STINGY}:80`, retry: 'no_budget' }), 20);
  });

  it('answers 504 when a route’s timeout passes, with sluice-proxy-error', async () => {
    slow.delayMs = 3_000;
    const reply = await send(proxy.outbound.port, 'slow.default.svc.cluster.local', { path: '/slow/1' });
    slow.delayMs = 0;
    assert.equal(reply.status, 504);
    assert.equal(reply.headers['sluice-proxy-error'], 'response timed out');
    const fast = await send(proxy.outbound.port, 'slow.default.svc.cluster.local', { path: '/slow/2' });
    assert.equal(fast.status, 200);
    const text = await proxy.metrics();
    assert.equal(metricValue(text, 'route_response_total', { rt_route: 'slow', status_code: '504', error: 'response_timeout' }), 1);
  });
});
