// The Prometheus HTTP API client against a real HTTP server standing in for Prometheus: the query and
// instant it sends, the vector it reads, and a clear error for every way a query can fail.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { parsePrometheusUrl, PrometheusClient, PrometheusError, samplesOf } from './client.ts';

describe('PrometheusClient', () => {
  let server: http.Server;
  let base = '';
  const seen: Array<{ path: string; form: URLSearchParams }> = [];
  let answer: (form: URLSearchParams) => { status: number; body: string } = () => ({ status: 200, body: '{}' });

  before(async () => {
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        const form = new URLSearchParams(body);
        seen.push({ path: req.url ?? '', form });
        const { status, body: out } = answer(form);
        res.writeHead(status, { 'content-type': 'application/json' }).end(out);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => server.close());

  it('posts an instant query at the given time and reads the vector', async () => {
    answer = () => ({
      status: 200,
      body: JSON.stringify({ status: 'success', data: { resultType: 'vector', result: [{ metric: { pod: 'web-1' }, value: [1700000000.5, '42.5'] }] } }),
    });
    const client = new PrometheusClient({ url: `${base}/prom/`, timeoutMs: 2_000 });
    const samples = await client.query('sum(up)', 1_700_000_000_500);
    assert.deepEqual(samples, [{ metric: { pod: 'web-1' }, value: 42.5 }]);
    const last = seen[seen.length - 1];
    assert.equal(last?.path, '/prom/api/v1/query');
    assert.equal(last?.form.get('query'), 'sum(up)');
    assert.equal(last?.form.get('time'), '1700000000.500');
  });

  it("passes on Prometheus's own reason for a rejected query", async () => {
    answer = () => ({ status: 400, body: JSON.stringify({ status: 'error', errorType: 'bad_data', error: 'parse error at char 5' }) });
    await assert.rejects(new PrometheusClient({ url: base }).query('sum(', 0), (error: unknown) => error instanceof PrometheusError && /bad_data: parse error at char 5/.test(error.message) && error.code === 14);
  });

  it('says when the answer is not JSON, or not a vector', async () => {
    answer = () => ({ status: 502, body: '<html>bad gateway</html>' });
    await assert.rejects(new PrometheusClient({ url: base }).query('up', 0), /answered HTTP 502 without JSON/);
    answer = () => ({ status: 200, body: JSON.stringify({ status: 'success', data: { resultType: 'matrix', result: [] } }) });
    await assert.rejects(new PrometheusClient({ url: base }).query('up[1m]', 0), /a matrix result where a vector was expected/);
  });

  it('names the server it cannot reach', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    await assert.rejects(new PrometheusClient({ url: `http://127.0.0.1:${port}`, timeoutMs: 2_000 }).query('up', 0), new RegExp(`cannot reach Prometheus at http://127.0.0.1:${port}/`));
  });
});

describe('parsePrometheusUrl and samplesOf', () => {
  it('accepts http(s) URLs only', () => {
    assert.equal(parsePrometheusUrl('http://prometheus.monitoring.svc:9090').host, 'prometheus.monitoring.svc:9090');
    assert.throws(() => parsePrometheusUrl('prometheus:9090'), /not an http\(s\) URL/);
    assert.throws(() => parsePrometheusUrl('not a url'), /is not a URL/);
    assert.throws(() => parsePrometheusUrl('http://p:9090/?x=1'), /query or fragment/);
  });

  it('reads an empty vector as no samples', () => {
    assert.deepEqual(samplesOf({ status: 'success', data: { resultType: 'vector', result: [] } }, 'up'), []);
  });
});
