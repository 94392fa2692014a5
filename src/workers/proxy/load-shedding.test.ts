// Load shed by the outbound proxy is not a failure of the endpoint. A Destination-resolved service whose
// only endpoint takes one HTTP/2 stream at a time per connection: the proxy opens further connections
// while every one is full, up to 8, and past those 8 in flight and the queue of 256 waiting for them,
// requests are shed with 503 `overloaded` — by this proxy, before they reach the endpoint. Were
// those counted by failure accrual, 7 of them would eject the endpoint and everything after the burst
// would fail fast ("every endpoint is ejected") for the whole penalty. Both paths that queue for a stream
// are covered: h2c (h2/exchange.ts) and HTTP/1.1 carried across the mesh hop as HTTP/2 (orig-proto).
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { describe, it } from 'node:test';
import { eventually, h2Send, send, type Reply } from '../../../test/support/backends.ts';
import { ERROR_RESPONSES, PROXY_ERROR_HEADER } from '../../core/errors.ts';
import { MAX_CONNECTIONS_PER_ENDPOINT, MAX_WAITING_STREAMS } from './h2/upstreams.ts';
import { startHeldEndpoint } from './h2/held-endpoint.testkit.ts';
import { resolved, startInProcessProxy } from './mesh-tls.testkit.ts';

const WEB = 'web.default.svc.cluster.local';
const EXCESS = 20;

describe('load shed by the proxy does not eject the endpoint', { timeout: 60_000 }, () => {
  for (const protocol of ['h2c', 'http1 (orig-proto)'] as const) {
    it(`${protocol}: after a burst above capacity the endpoint is still in the balancer and serves the next request`, async (t) => {
      const endpoint = await startHeldEndpoint(1);
      t.after(() => endpoint.close());
      // An ejection would outlast the test: a request after the burst would then fail fast.
      const proxy = await startInProcessProxy({ SLUICE_PROXY_OUTBOUND_FAILURE_ACCRUAL_CONSECUTIVE_MIN_PENALTY: '60s' }, undefined);
      t.after(() => proxy.close());
      // Hinted h2: HTTP/1.1 requests cross as HTTP/2 streams (plaintext here; mesh TLS changes nothing of this).
      proxy.destinations.set(`${WEB}:80`, resolved({ host: '127.0.0.1', port: endpoint.port, labels: {}, protocolHint: 'h2' }));
      await proxy.stacks.outboundReady;
      const sessions: http2.ClientHttp2Session[] = [];
      t.after(() => sessions.forEach((s) => s.destroy()));
      const request = (path: string, i: number): Promise<Reply> => {
        if (protocol !== 'h2c') return send(proxy.outboundPort, `${WEB}:80`, { path });
        // The proxy takes 100 streams per client connection.
        while (sessions.length <= Math.floor(i / 100)) {
          const s = http2.connect(`http://127.0.0.1:${proxy.outboundPort}`);
          s.on('error', () => {});
          sessions.push(s);
        }
        return h2Send(sessions[Math.floor(i / 100)] as http2.ClientHttp2Session, WEB, path);
      };

      assert.equal((await request('/warm', 0)).status, 200, 'the upstream connection and its SETTINGS are known');
      const answered: Reply[] = [];
      const capacity = MAX_CONNECTIONS_PER_ENDPOINT + MAX_WAITING_STREAMS;
      const burst = Array.from({ length: capacity + EXCESS }, (_, i) =>
        request(`/burst/${i}`, i).then((r) => {
          answered.push(r);
          return r;
        }),
      );
      await eventually(() => answered.length >= EXCESS, 20_000, 'the excess to be shed');
      const overloaded = ERROR_RESPONSES.overloaded.message;
      assert.deepEqual(
        answered.map((r) => `${r.status} ${String(r.headers[PROXY_ERROR_HEADER])}`),
        Array.from({ length: EXCESS }, () => `503 ${overloaded}`),
        'the excess is shed as overloaded',
      );
      // More than 7 sheds in a row, and the endpoint is still there: one more is shed the same way, not failed fast.
      const more = await request('/more', capacity + EXCESS);
      assert.deepEqual([more.status, more.headers[PROXY_ERROR_HEADER]], [503, overloaded]);
      // The further connections may still be handshaking when the excess is shed: their streams arrive after.
      await eventually(() => endpoint.received() >= 1 + MAX_CONNECTIONS_PER_ENDPOINT, 10_000, 'a stream on every connection');
      assert.equal(endpoint.received(), 1 + MAX_CONNECTIONS_PER_ENDPOINT, 'the warm-up and one in flight per connection reached the endpoint');
      assert.equal(endpoint.sessions(), MAX_CONNECTIONS_PER_ENDPOINT, 'no more connections than the cap, none refused and replaced');

      endpoint.release();
      const replies = await Promise.all(burst);
      assert.equal(replies.filter((r) => r.status === 200).length, capacity);
      const next = await request('/next', 0);
      assert.equal(next.status, 200, `served, not failed fast: ${String(next.headers[PROXY_ERROR_HEADER])}`);
    });
  }
});
