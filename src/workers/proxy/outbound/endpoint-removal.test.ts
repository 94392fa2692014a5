// An HTTP/2 endpoint that the Destination service has just removed, and that refuses what it still
// holds (REFUSED_STREAM, or GOAWAY naming an earlier last stream), as a pod does while it shuts down:
// the proxy has already sent it GOAWAY, resends the refused request once to an endpoint still in the
// set, and never opens a new connection to the removed one. The client sees one answer, from the new endpoint.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http2 from 'node:http2';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { eventually } from '../../../../test/support/backends.ts';
import { FakeDestination } from '../../../../test/support/fake-destination.ts';
import { listen } from '../../../../test/support/net.ts';
import { startProxy, type RunningProxy } from '../../../../test/support/proxy.ts';

const API = 'api.default.svc.cluster.local:80';

interface Endpoint {
  readonly name: string;
  readonly port: number;
  /** Paths of the requests received, in order. */
  readonly seen: string[];
  /** Requests to /hold, not answered (on an endpoint that holds). */
  readonly held: http2.ServerHttp2Stream[];
  readonly sessions: http2.ServerHttp2Session[];
  /** GOAWAY frames received from the proxy. */
  goawaysReceived: number;
  close(): Promise<void>;
}

/** An h2c endpoint answering with its name; when `holds`, requests to /hold are kept unanswered. */
async function endpoint(name: string, holds: boolean): Promise<Endpoint> {
  const server = http2.createServer();
  const state: Endpoint = {
    name,
    port: 0,
    seen: [],
    held: [],
    sessions: [],
    goawaysReceived: 0,
    close: async () => {
      for (const session of state.sessions) session.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  server.on('session', (session) => {
    state.sessions.push(session);
    session.on('goaway', () => state.goawaysReceived++);
    session.on('error', () => {});
  });
  server.on('stream', (stream, headers) => {
    const path = String(headers[':path']);
    state.seen.push(path);
    stream.on('error', () => {});
    const body: Buffer[] = [];
    stream.on('data', (c: Buffer) => body.push(c));
    stream.on('end', () => {
      if (holds && path === '/hold') state.held.push(stream);
      else stream.respond({ ':status': 200, 'x-endpoint': name }), stream.end(`${name} got ${Buffer.concat(body).length} bytes`);
    });
  });
  (state as { port: number }).port = await listen(server);
  return state;
}

function request(port: number, path: string, body: string): Promise<{ status: number; endpoint: string; body: string }> {
  return new Promise((resolve, reject) => {
    const client = http2.connect(`http://127.0.0.1:${port}`);
    client.on('error', reject);
    const stream = client.request({ ':method': 'POST', ':authority': API, ':path': path });
    let text = '';
    let status = 0;
    let name = '';
    stream.setEncoding('utf8');
    stream.on('response', (headers) => {
      status = Number(headers[':status']);
      name = String(headers['x-endpoint'] ?? '');
    });
    stream.on('data', (c: string) => (text += c));
    stream.on('end', () => {
      client.close();
      resolve({ status, endpoint: name, body: text });
    });
    stream.on('error', reject);
    stream.end(body);
  });
}

describe('an HTTP/2 endpoint removed from the set while a request is on it', () => {
  let fake: FakeDestination;
  let leaving: Endpoint;
  let staying: Endpoint;
  let proxy: RunningProxy;

  beforeEach(async () => {
    fake = await FakeDestination.start();
    [leaving, staying] = await Promise.all([endpoint('leaving', true), endpoint('staying', false)]);
    fake.setEndpoints(API, [{ host: '127.0.0.1', port: leaving.port }]);
    proxy = await startProxy({ SLUICE_PROXY_DESTINATION_SVC_ADDR: fake.address, SLUICE_PROXY_HTTP_RESPONSE_TIMEOUT: '30s' });
    // Resolved, and the connection to the only endpoint is open.
    const warm = await request(proxy.outbound.port, '/warm', 'w');
    assert.equal(warm.endpoint, 'leaving');
  });
  afterEach(async () => {
    assert.equal(proxy.child.exitCode, null, 'the proxy survived');
    await proxy.stop();
    await fake.stop();
    await Promise.all([leaving.close(), staying.close()]);
  });

  /** Sends /hold, waits until the leaving endpoint holds it, then swaps the endpoint set and waits for the proxy's GOAWAY. */
  async function holdThenRemove(): Promise<{ reply: Promise<{ status: number; endpoint: string; body: string }> }> {
    const reply = request(proxy.outbound.port, '/hold', 'the body, sent twice');
    await eventually(() => leaving.held.length === 1, 10_000, 'the leaving endpoint to hold the request');
    // Added first, removed after: the Destination stream carries them in this order, so once the
    // removal shows (GOAWAY), the proxy knows the endpoint that stays.
    fake.setEndpoints(API, [
      { host: '127.0.0.1', port: leaving.port },
      { host: '127.0.0.1', port: staying.port },
    ]);
    fake.setEndpoints(API, [{ host: '127.0.0.1', port: staying.port }]);
    await eventually(() => leaving.goawaysReceived > 0, 10_000, 'the proxy to send GOAWAY to the removed endpoint');
    return { reply }; // wrapped: an async function would otherwise wait for the reply itself
  }

  it('resends a stream refused with REFUSED_STREAM to an endpoint still in the set', async () => {
    const { reply } = await holdThenRemove();
    leaving.held[0]?.close(http2.constants.NGHTTP2_REFUSED_STREAM);
    const answer = await reply;
    assert.deepEqual(answer, { status: 200, endpoint: 'staying', body: 'staying got 20 bytes' });
    assert.deepEqual(leaving.seen, ['/warm', '/hold']);
    assert.deepEqual(staying.seen, ['/hold']);
    assert.equal(leaving.sessions.length, 1, 'no new connection to the removed endpoint');
  });

  it('resends a stream that a GOAWAY from the endpoint left unprocessed', async () => {
    const { reply } = await holdThenRemove();
    const session = leaving.sessions[0] as http2.ServerHttp2Session;
    // The last stream it processed is /warm (1); /hold (3) was not, so the proxy may send it elsewhere.
    session.goaway(http2.constants.NGHTTP2_NO_ERROR, 1);
    const answer = await reply;
    assert.deepEqual(answer, { status: 200, endpoint: 'staying', body: 'staying got 20 bytes' });
    assert.deepEqual(staying.seen, ['/hold']);
    assert.equal(leaving.sessions.length, 1, 'no new connection to the removed endpoint');
    // The proxy closes its side of the retired connection once nothing is left on it.
    await Promise.race([once(session, 'close'), eventually(() => session.closed || session.destroyed, 10_000, 'the retired connection to close')]);
  });

  it('lets a request in flight on the removed endpoint finish there', async () => {
    const { reply } = await holdThenRemove();
    const held = leaving.held[0] as http2.ServerHttp2Stream;
    held.respond({ ':status': 200, 'x-endpoint': 'leaving' });
    held.end('finished after removal');
    assert.deepEqual(await reply, { status: 200, endpoint: 'leaving', body: 'finished after removal' });
    const after = await request(proxy.outbound.port, '/next', 'n');
    assert.equal(after.endpoint, 'staying', 'new requests go to the endpoints in the set');
    assert.equal(leaving.sessions.length, 1);
  });
});
