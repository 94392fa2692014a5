// Property tests of the HTTP/1 path through the real proxy: arbitrary and truncated input never takes
// it down, and well-formed requests arrive upstream as they were sent, less hop-by-hop fields: every
// other field arrives, in order, Host and Content-Length included, and no hop-by-hop one does.
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
/** The hop-by-hop fields the generated requests carry (besides those named in their Connection field). */
const HOP_BY_HOP_SENT = ['Keep-Alive: timeout=1', 'Proxy-Connection: keep-alive', 'TE: trailers'];

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
      hop: fc.subarray([...HOP_BY_HOP_SENT, 'Upgrade-Insecure-Requests: 1']),
      // Fields made hop-by-hop by naming them in Connection.
      named: fc.uniqueArray(token.map((t) => `Hop-${t}`), { maxLength: 3, selector: (n) => n.toLowerCase() }),
    });
    await fc.assert(
      fc.asyncProperty(request, async ({ method, path, fields, hop, named }) => {
        const hopFields = hop.map((h) => h.split(': ') as [string, string]);
        const namedFields = named.map((n): [string, string] => [n, 'drop me']);
        const head =
          `${method} ${path} HTTP/1.1\r\nHost: svc.test\r\nConnection: ${['close', ...named].join(', ')}\r\n` +
          [...fields, ...hopFields, ...namedFields].map(([n, v]) => `${n}: ${v}\r\n`).join('') +
          'Content-Length: 0\r\n\r\n';
        const text = await exchange(proxy.outbound.port, head);
        assert.match(text, /^HTTP\/1\.1 200 /);
        const seen = JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as { method: string; url: string; raw: string[] };
        assert.equal(seen.method, method);
        assert.equal(seen.url, path);
        const upstream: Array<[string, string]> = [];
        for (let i = 0; i < seen.raw.length; i += 2) upstream.push([seen.raw[i] as string, seen.raw[i + 1] as string]);

        // No hop-by-hop field of the client's arrives; the proxy may say only keep-alive/close for its own hop.
        const removed = new Set(['keep-alive', 'proxy-connection', 'te', ...named.map((n) => n.toLowerCase())]);
        assert.deepEqual(upstream.filter(([n]) => removed.has(n.toLowerCase())), [], `hop-by-hop fields forwarded: ${JSON.stringify(seen.raw)}`);
        for (const [n, v] of upstream) {
          if (n.toLowerCase() === 'connection') assert.match(v, /^(keep-alive|close)$/i, `the client's Connection field leaked: ${v}`);
        }
        // Every other field arrives as sent, in order: Host, the end-to-end fields, Content-Length.
        const endToEnd = hopFields.filter(([n]) => !removed.has(n.toLowerCase()));
        const expected: Array<[string, string]> = [['Host', 'svc.test'], ...fields, ...endToEnd, ['Content-Length', '0']];
        assert.deepEqual(upstream.filter(([n]) => n.toLowerCase() !== 'connection'), expected);
      }),
      { numRuns: 60 },
    );
  });
});
