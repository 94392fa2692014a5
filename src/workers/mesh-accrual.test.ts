// Failure accrual through the real proxy: an endpoint that fails 7 times in a row is ejected (requests
// go to the others, or fail fast when none is left), and it is probed again after its penalty.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually, send, startBackend, who, type Backend } from '../../test/support/backends.ts';
import { FakeDestination } from '../../test/support/fake-destination.ts';
import { metricValue, startProxy, type RunningProxy } from '../../test/support/proxy.ts';

const WEB = 'web.default.svc.cluster.local';
const SOLO = 'solo.default.svc.cluster.local';

describe('failure accrual', () => {
  let fake: FakeDestination;
  let good: Backend;
  let bad: Backend;
  let proxy: RunningProxy;

  before(async () => {
    fake = await FakeDestination.start();
    [good, bad] = await Promise.all([startBackend('good'), startBackend('bad')]);
    fake.setEndpoints(`${WEB}:80`, [
      { host: '127.0.0.1', port: good.port, labels: { pod: 'good' } },
      { host: '127.0.0.1', port: bad.port, labels: { pod: 'bad' } },
    ]);
    fake.setEndpoints(`${SOLO}:80`, [{ host: '127.0.0.1', port: bad.port }]);
    proxy = await startProxy({
      SLUICE_PROXY_DESTINATION_SVC_ADDR: fake.address,
      // Long enough that the requests after an ejection certainly run inside it; short enough to wait out.
      SLUICE_PROXY_OUTBOUND_FAILURE_ACCRUAL_CONSECUTIVE_MIN_PENALTY: '3s',
      SLUICE_PROXY_OUTBOUND_FAILURE_ACCRUAL_CONSECUTIVE_JITTER_RATIO: '0',
    });
  });
  after(async () => {
    await proxy.stop();
    await fake.stop();
    await Promise.all([good.close(), bad.close()]);
  });

  it('ejects an endpoint after 7 consecutive failures, then probes it after the penalty and takes it back', async () => {
    bad.failNext = 7;
    // Until bad has failed 7 times (P2C sends it its share; good answers the rest).
    await eventually(async () => {
      await send(proxy.outbound.port, WEB);
      return bad.failNext === 0;
    }, 10_000, 'seven failures of the bad endpoint');
    const seen = bad.seen.length;
    for (let i = 0; i < 20; i++) assert.equal(who(await send(proxy.outbound.port, WEB)), 'good');
    assert.equal(bad.seen.length, seen, 'no request reached the ejected endpoint');
    // It is healthy now; after the penalty one probe goes through, and then it is back in the rotation.
    await eventually(async () => {
      await send(proxy.outbound.port, WEB);
      return bad.seen.length > seen;
    }, 15_000, 'the ejected endpoint to be probed');
    await eventually(async () => {
      const replies = await Promise.all(Array.from({ length: 6 }, () => send(proxy.outbound.port, WEB).then(who)));
      return replies.includes('bad');
    }, 10_000, 'the recovered endpoint to take requests again');
    const text = await proxy.metrics();
    assert.equal(metricValue(text, 'response_total', { dst_pod: 'bad', classification: 'failure', status_code: '500' }), 7);
  });

  it('fails fast (503) while the only endpoint is ejected', async () => {
    bad.failNext = 7;
    for (let i = 0; i < 7; i++) assert.equal((await send(proxy.outbound.port, SOLO)).status, 500);
    const reply = await send(proxy.outbound.port, SOLO);
    assert.equal(reply.status, 503);
    assert.equal(reply.headers['sluice-proxy-error'], 'service in fail-fast: every endpoint is ejected');
    assert.equal(bad.failNext, 0);
    await eventually(async () => (await send(proxy.outbound.port, SOLO)).status === 200, 15_000, 'the probe after the penalty');
  });
});
