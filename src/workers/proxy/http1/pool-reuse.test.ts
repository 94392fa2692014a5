// Which pooled upstream connection the fast HTTP/1 engine reuses: the one idle the longest, so that every
// connection a burst opened keeps being used while traffic lasts instead of idling out and being opened
// again (on the mesh hop through the peer proxy's accept) at the next burst.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { closeServer, listen } from '../../../../test/support/net.ts';
import { startProxy, type RunningProxy } from '../../../../test/support/proxy.ts';

/** GET through the proxy on a fresh client connection; the body names the backend connection that served it. */
function get(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ port, host: '127.0.0.1', path, agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on('error', reject);
  });
}

describe('fast HTTP/1 engine: upstream connection reuse', () => {
  let backend: http.Server;
  let proxy: RunningProxy;
  /** Held responses of /hold requests, released together. */
  const held: Array<() => void> = [];

  before(async () => {
    backend = http.createServer((req, res) => {
      const conn = String(req.socket.remotePort);
      if (req.url === '/hold') held.push(() => res.end(conn));
      else res.end(conn);
    });
    backend.keepAliveTimeout = 60_000;
    const port = await listen(backend);
    proxy = await startProxy({ SLUICE_PROXY_OUTBOUND_FORWARD_ADDR: `127.0.0.1:${port}`, SLUICE_PROXY_WORKERS: '1' });
  });
  after(async () => {
    await proxy.stop();
    backend.closeAllConnections();
    await closeServer(backend);
  });

  it('takes the connection idle the longest, so every connection of a burst stays in use', async () => {
    // A burst of three requests at once: three upstream connections.
    const burst = [get(proxy.outbound.port, '/hold'), get(proxy.outbound.port, '/hold'), get(proxy.outbound.port, '/hold')];
    const deadline = Date.now() + 5000;
    while (held.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(held.length, 3, 'the three requests reached the backend at once');
    for (const release of held.splice(0)) release();
    const burstConns = new Set(await Promise.all(burst));
    assert.equal(burstConns.size, 3);
    // Then one request at a time: they go round the three pooled connections, none idles out.
    const sequential: string[] = [];
    for (let i = 0; i < 6; i++) sequential.push(await get(proxy.outbound.port, '/'));
    assert.deepEqual(new Set(sequential), burstConns, 'no new connection, and every pooled one used');
    assert.equal(sequential[0], sequential[3], 'in rotation: the first reused again after the other two');
    assert.notEqual(sequential[0], sequential[1]);
  });
});
