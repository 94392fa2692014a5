// Failure accrual through the real proxy: an endpoint that fails 7 times in a row is ejected (requests
// go to the others, or fail fast when none is left), and it is probed again after its penalty.
//
// Which of two healthy endpoints P2C over peak-EWMA prefers depends on latencies the test does not
// control, so failures are first run up against an endpoint that is the destination's only one, and the
// second endpoint is added afterwards: the endpoint keeps its state across the update.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually, send, startBackend, who, type Backend } from '../../../../test/support/backends.ts';
import { FakeDestination } from '../../../../test/support/fake-destination.ts';
import { metricValue, startProxy, type RunningProxy } from '../../../../test/support/proxy.ts';

const WEB = 'web.default.svc.cluster.local';

describe('failure accrual', () => {
  let fake: FakeDestination;
  let good: Backend;
  let bad: Backend;

  before(async () => {
    fake = await FakeDestination.start();
    [good, bad] = await Promise.all([startBackend('good'), startBackend('bad')]);
  });
  after(async () => {
    await fake.stop();
    await Promise.all([good.close(), bad.close()]);
  });

  describe('with a long penalty', () => {
    let proxy: RunningProxy;
    before(async () => {
      fake.setEndpoints(`${WEB}:80`, [{ host: '127.0.0.1', port: bad.port, labels: { pod: 'bad' } }]);
      // The penalty outlasts the test: whatever the machine's speed, the endpoint stays ejected throughout.
      proxy = await startProxy({
        SLUICE_PROXY_DESTINATION_SVC_ADDR: fake.address,
        SLUICE_PROXY_OUTBOUND_FAILURE_ACCRUAL_CONSECUTIVE_MIN_PENALTY: '60s',
      });
    });
    after(() => proxy.stop());

    it('ejects an endpoint after 7 consecutive failures, and sends its traffic to the others', async () => {
      bad.failNext = 7;
      for (let i = 0; i < 7; i++) assert.equal((await send(proxy.outbound.port, WEB)).status, 500);
      assert.equal(bad.failNext, 0);
      const seen = bad.seen.length;
      // The only endpoint is ejected: the proxy answers at once.
      const reply = await send(proxy.outbound.port, WEB);
      assert.equal(reply.status, 503);
      assert.equal(reply.headers['sluice-proxy-error'], 'service in fail-fast: every endpoint is ejected');
      fake.setEndpoints(`${WEB}:80`, [
        { host: '127.0.0.1', port: good.port, labels: { pod: 'good' } },
        { host: '127.0.0.1', port: bad.port, labels: { pod: 'bad' } },
      ]);
      // Until the update arrives the ejected endpoint is the only one: requests fail fast, unsent.
      await eventually(async () => who(await send(proxy.outbound.port, WEB)) === 'good', 10_000, 'the second endpoint');
      for (let i = 0; i < 20; i++) assert.equal(who(await send(proxy.outbound.port, WEB)), 'good');
      assert.equal(bad.seen.length, seen, 'no request reached the ejected endpoint');
      const text = await proxy.metrics();
      assert.equal(metricValue(text, 'response_total', { dst_pod: 'bad', classification: 'failure', status_code: '500' }), 7);
    });
  });

  describe('with a short penalty', () => {
    let proxy: RunningProxy;
    before(async () => {
      fake.setEndpoints(`${WEB}:80`, [{ host: '127.0.0.1', port: bad.port }]);
      proxy = await startProxy({
        SLUICE_PROXY_DESTINATION_SVC_ADDR: fake.address,
        SLUICE_PROXY_OUTBOUND_FAILURE_ACCRUAL_CONSECUTIVE_MIN_PENALTY: '500ms',
      });
    });
    after(() => proxy.stop());

    it('fails fast (503) once the only endpoint is ejected, probes it after the penalty, and takes it back', async () => {
      bad.failNext = 7;
      for (let i = 0; i < 7; i++) assert.equal((await send(proxy.outbound.port, WEB)).status, 500);
      const seen = bad.seen.length;
      // Ejected: answered by the proxy (unless the penalty is already over on a very slow machine).
      const reply = await send(proxy.outbound.port, WEB);
      if (bad.seen.length === seen) {
        assert.equal(reply.status, 503);
        assert.equal(reply.headers['sluice-proxy-error'], 'service in fail-fast: every endpoint is ejected');
      }
      // Healthy again: after the penalty one probe goes through, succeeds, and the endpoint is back.
      await eventually(async () => (await send(proxy.outbound.port, WEB)).status === 200, 15_000, 'the probe after the penalty');
      for (let i = 0; i < 10; i++) assert.equal((await send(proxy.outbound.port, WEB)).status, 200);
    });
  });
});
