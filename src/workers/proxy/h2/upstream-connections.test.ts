// An endpoint's SETTINGS_MAX_CONCURRENT_STREAMS limits one connection, not the endpoint: streams past it
// go over a further connection (h2/upstreams.ts), opened only while every one is full, and the extra
// connections close once idle. Both paths that ask for streams: h2c and HTTP/1.1 carried across the
// mesh hop as HTTP/2 (orig-proto).
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { describe, it } from 'node:test';
import { eventually, h2Send, send, type Reply } from '../../../../test/support/backends.ts';
import { resolved, startInProcessProxy } from '../mesh-tls.testkit.ts';
import { startHeldEndpoint } from './held-endpoint.testkit.ts';

const WEB = 'web.default.svc.cluster.local';
const LIMIT = 2;

describe('streams past an endpoint connection’s limit', { timeout: 30_000 }, () => {
  for (const protocol of ['h2c', 'http1 (orig-proto)'] as const) {
    it(`${protocol}: go over further connections at once, which close once idle`, async (t) => {
      const endpoint = await startHeldEndpoint(LIMIT);
      t.after(() => endpoint.close());
      const proxy = await startInProcessProxy({ SLUICE_PROXY_HTTP_POOL_IDLE_TIMEOUT: '1s' }, undefined);
      t.after(() => proxy.close());
      proxy.destinations.set(`${WEB}:80`, resolved({ host: '127.0.0.1', port: endpoint.port, labels: {}, protocolHint: 'h2' }));
      await proxy.stacks.outboundReady;
      const client = http2.connect(`http://127.0.0.1:${proxy.outboundPort}`);
      client.on('error', () => {});
      t.after(() => client.destroy());
      const request = (path: string): Promise<Reply> => (protocol === 'h2c' ? h2Send(client, WEB, path) : send(proxy.outboundPort, `${WEB}:80`, { path }));

      assert.equal((await request('/warm')).status, 200, 'the first connection knows the endpoint’s limit');
      // Three connections' worth: all in flight at the endpoint at once, none waiting in the proxy.
      const burst = Array.from({ length: 3 * LIMIT }, (_, i) => request(`/held/${i}`));
      await eventually(() => endpoint.inFlight() === 3 * LIMIT, 10_000, `${3 * LIMIT} requests in flight at the endpoint`);
      assert.equal(endpoint.sessions(), 3, 'one connection per LIMIT streams, no refused stream replaced');

      endpoint.release();
      const replies = await Promise.all(burst);
      assert.deepEqual(
        replies.map((r) => r.status),
        burst.map(() => 200),
      );
      // Unused past the pool's idle timeout, every connection closes.
      await eventually(() => endpoint.open() === 0, 10_000, 'the idle connections to close');
      assert.equal((await request('/after')).status, 200);
    });
  }
});
