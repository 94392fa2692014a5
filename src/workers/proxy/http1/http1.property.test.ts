// Property tests of the HTTP/1 path through the real proxy: arbitrary and truncated input never takes
// it down, and well-formed requests arrive upstream as they were sent, less hop-by-hop fields.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { closeServer, collect, connect, exchange, listen } from '../../../../test/support/net.ts';
import { startProxy, type RunningProxy } from '../../../../test/support/proxy.ts';

const TOKEN_CHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".split('');
const token = fc.string({ unit: fc.constantFrom(...TOKEN_CHARS), minLength: 1, maxLength: 12 });
const pathSegment = fc.string({ unit: fc.constantFrom(...'abcxyz0189-._~%20'.split('')), maxLength: 10 });
const fieldValue = fc.string({ unit: fc.constantFrom(...'abc xyz;=,/"0123'.split('')), maxLength: 30 }).map((v) => v.trim());
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'http2-settings', 'host', 'content-length', 'expect']);

describe('HTTP/1 path under generated input', () => {
  let proxy: RunningProxy;
  let backend: http.Server;

  before(async () => {
    backend = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => res.end(JSON.stringify({ method: req.method, url: req.url, raw: req.rawHeaders })));
    });
    const port = await listen(backend);
    proxy = await startProxy({
      SLUICE_PROXY_OUTBOUND_FORWARD_ADDR: `127.0.0.1:${port}`,
      SLUICE_PROXY_DETECT_TIMEOUT: '200ms',
      SLUICE_PROXY_HTTP_HEADER_TIMEOUT: '500ms',
    });
  });
  after(async () => {
    await proxy.stop();
    await closeServer(backend);
  });

  it('survives arbitrary bytes and truncated requests, and serves normally afterwards', async () => {
    const valid = 'POST /path HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello';
    const input = fc.oneof(
      fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
      fc.nat({ max: valid.length }).map((n) => Buffer.from(valid.slice(0, n))),
      fc.tuple(fc.nat({ max: valid.length }), fc.uint8Array({ minLength: 1, maxLength: 40 })).map(([n, junk]) =>
        Buffer.concat([Buffer.from(valid.slice(0, n)), Buffer.from(junk)]),
      ),
    );
    await fc.assert(
      fc.asyncProperty(input, async (bytes) => {
        // The client sends and half-closes; whatever the answer, the connection must end promptly.
        const socket = await connect(proxy.outbound.port);
        socket.end(bytes);
        const text = await collect(socket, undefined, 5000).catch((e: Error) => `error: ${e.message}`);
        assert.doesNotMatch(text, /^error: timed out/);
        if (text.startsWith('HTTP/1.1 ')) assert.match(text, /^HTTP\/1\.1 \d{3} /);
      }),
      { numRuns: 60 },
    );
    assert.equal(proxy.child.exitCode, null, 'the proxy is still running');
    const res = await fetch(`http://127.0.0.1:${proxy.outbound.port}/after`);
    assert.equal(res.status, 200);
  });

  it('delivers generated requests upstream unchanged except for hop-by-hop fields', async () => {
    const request = fc.record({
      method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'PROPFIND', 'M-SEARCH'),
      path: fc.array(pathSegment, { maxLength: 4 }).map((parts) => `/${parts.join('/')}`),
      fields: fc.array(fc.tuple(token.map((t) => `X-${t}`), fieldValue), { maxLength: 8 }),
      hop: fc.subarray(['Keep-Alive: timeout=1', 'Proxy-Connection: keep-alive', 'TE: trailers', 'Upgrade-Insecure-Requests: 1']),
    });
    await fc.assert(
      fc.asyncProperty(request, async ({ method, path, fields, hop }) => {
        const head =
          `${method} ${path} HTTP/1.1\r\nHost: svc.test\r\nConnection: close\r\n` +
          fields.map(([n, v]) => `${n}: ${v}\r\n`).join('') +
          hop.map((h) => `${h}\r\n`).join('') +
          'Content-Length: 0\r\n\r\n';
        const text = await exchange(proxy.outbound.port, head);
        assert.match(text, /^HTTP\/1\.1 200 /);
        const seen = JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as { method: string; url: string; raw: string[] };
        assert.equal(seen.method, method);
        assert.equal(seen.url, path);
        const forwarded: Array<[string, string]> = [];
        for (let i = 0; i < seen.raw.length; i += 2) {
          const name = seen.raw[i] as string;
          if (!HOP_BY_HOP.has(name.toLowerCase())) forwarded.push([name, seen.raw[i + 1] as string]);
        }
        const expected = [...fields, ...hop.map((h) => h.split(': ') as [string, string])].filter(
          ([n]) => !HOP_BY_HOP.has(n.toLowerCase()),
        );
        assert.deepEqual(forwarded, expected);
      }),
      { numRuns: 60 },
    );
  });
});
