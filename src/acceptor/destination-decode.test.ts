// Decoding Destination API messages (in @grpc/proto-loader's shape) and applying Update diffs.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { EndpointTable, decodeEndpoint, decodeProfile, decodeRequestMatch, decodeTcpAddress, durationMs } from './destination-decode.ts';

const v4 = (a: number, b: number, c: number, d: number, port: number) => ({ ip: { ip: 'ipv4', ipv4: ((a << 24) >>> 0) + (b << 16) + (c << 8) + d }, port });

describe('decodeTcpAddress', () => {
  it('reads IPv4 (fixed32, big-endian) and IPv6 (two fixed64 halves as decimal strings)', () => {
    assert.deepEqual(decodeTcpAddress(v4(10, 42, 0, 11, 8080)), { host: '10.42.0.11', port: 8080 });
    assert.deepEqual(decodeTcpAddress({ ip: { ip: 'ipv6', ipv6: { first: '0', last: '1' } }, port: 80 }), { host: '::1', port: 80 });
    const fd00 = (0xfd00n << 48n).toString();
    assert.deepEqual(decodeTcpAddress({ ip: { ip: 'ipv6', ipv6: { first: fd00, last: '17' } }, port: 80 }), { host: 'fd00::11', port: 80 });
    assert.deepEqual(decodeTcpAddress({ ip: { ipv6: { first: '18446744073709551615', last: '18446744073709551615' } }, port: 1 }), {
      host: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
      port: 1,
    });
  });

  it('refuses what it cannot read: no port, port 0, no address, out-of-range halves', () => {
    assert.equal(decodeTcpAddress(undefined), undefined);
    assert.equal(decodeTcpAddress({ ip: { ipv4: 1 } }), undefined);
    assert.equal(decodeTcpAddress({ ip: { ipv4: 1 }, port: 0 }), undefined);
    assert.equal(decodeTcpAddress({ port: 80 }), undefined);
    assert.equal(decodeTcpAddress({ ip: { ipv6: { first: '18446744073709551616', last: '0' } }, port: 80 }), undefined);
  });

  it('writes IPv6 in RFC 5952 form, as Node’s URL parser does (fast-check)', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), (first, last) => {
        const host = decodeTcpAddress({ ip: { ipv6: { first: first.toString(), last: last.toString() } }, port: 1 })?.host ?? '';
        assert.equal(host, new URL(`http://[${host}]/`).hostname.slice(1, -1));
      }),
    );
  });
});

describe('EndpointTable', () => {
  it('takes the first message of a stream as the full set, then applies adds and removes', () => {
    const table = new EndpointTable();
    table.apply({ update: 'add', add: { addrs: [{ addr: v4(10, 0, 0, 1, 80), metric_labels: { pod: 'a' } }], metric_labels: { service: 'web' } } }, true);
    table.apply({ update: 'add', add: { addrs: [{ addr: v4(10, 0, 0, 2, 80) }] } }, false);
    assert.deepEqual(table.list(), [
      { host: '10.0.0.1', port: 80, labels: { service: 'web', pod: 'a' } },
      { host: '10.0.0.2', port: 80, labels: {} },
    ]);
    table.apply({ update: 'remove', remove: { addrs: [v4(10, 0, 0, 1, 80)] } }, false);
    assert.deepEqual(table.list().map((e) => e.host), ['10.0.0.2']);
    // A reconnect's first message replaces everything known before.
    table.apply({ update: 'add', add: { addrs: [{ addr: v4(10, 0, 0, 3, 80) }] } }, true);
    assert.deepEqual(table.list().map((e) => e.host), ['10.0.0.3']);
  });

  it('empties on no_endpoints, which says whether the service exists', () => {
    const table = new EndpointTable();
    table.apply({ update: 'add', add: { addrs: [{ addr: v4(10, 0, 0, 1, 80) }] } }, true);
    assert.equal(table.apply({ update: 'no_endpoints', no_endpoints: { exists: true } }, false), 'ok');
    assert.deepEqual(table.list(), []);
    assert.equal(table.apply({ update: 'no_endpoints', no_endpoints: {} }, false), 'absent');
  });

  it('skips an endpoint whose address cannot be read', () => {
    const table = new EndpointTable();
    table.apply({ update: 'add', add: { addrs: [{ addr: { port: 80 } }, { addr: v4(10, 0, 0, 9, 80) }] } }, true);
    assert.deepEqual(table.list().map((e) => e.host), ['10.0.0.9']);
  });
});

describe('decodeEndpoint: mesh identity and protocol hint', () => {
  const ID = 'web.default.serviceaccount.identity.sluice.cluster.local';

  it('carries the TLS identity and its SNI, and the h2 hint, as the controller sends them', () => {
    const endpoint = decodeEndpoint(
      {
        addr: v4(10, 0, 0, 1, 80),
        tls_identity: { strategy: 'dns_like_identity', dns_like_identity: { name: ID }, server_name: { name: ID } },
        protocol_hint: { protocol: 'h2', h2: {} },
      },
      undefined,
    );
    assert.deepEqual(endpoint, { host: '10.0.0.1', port: 80, labels: {}, tlsIdentity: { identity: ID, serverName: ID }, protocolHint: 'h2' });
  });

  it('uses the identity as SNI when no server_name came, and lower-cases both', () => {
    const endpoint = decodeEndpoint({ addr: v4(10, 0, 0, 1, 80), tls_identity: { dns_like_identity: { name: ID.toUpperCase() } } }, undefined);
    assert.deepEqual(endpoint?.tlsIdentity, { identity: ID, serverName: ID });
  });

  it('leaves an endpoint without a usable identity in plaintext (none, empty, URI-like, not a DNS name)', () => {
    for (const tls of [undefined, { dns_like_identity: { name: '' } }, { strategy: 'uri_like_identity' }, { dns_like_identity: { name: 'a b/c' } }]) {
      const endpoint = decodeEndpoint({ addr: v4(10, 0, 0, 1, 80), tls_identity: tls }, undefined);
      assert.equal(endpoint?.tlsIdentity, undefined, JSON.stringify(tls));
      assert.equal(endpoint?.protocolHint, undefined);
    }
  });
});

describe('profiles', () => {
  it('decodes routes, conditions, response classes, timeouts and the retry budget', () => {
    const profile = decodeProfile({
      fully_qualified_name: 'books.default.svc.cluster.local',
      retry_budget: { retry_ratio: 0.25, min_retries_per_second: 3, ttl: { seconds: '20', nanos: 0 } },
      routes: [
        {
          condition: {
            match: 'all',
            all: {
              matches: [
                { match: 'method', method: { type: 'registered', registered: 'GET' } },
                { match: 'path', path: { regex: '/books/\\d+' } },
                { match: 'not', not: { match: 'method', method: { type: 'unregistered', unregistered: 'purge' } } },
              ],
            },
          },
          response_classes: [{ condition: { match: 'status', status: { min: 500, max: 599 } }, is_failure: true }],
          metrics_labels: { route: 'GET /books/{id}' },
          is_retryable: true,
          timeout: { seconds: '1', nanos: 500_000_000 },
        },
        {},
      ],
    });
    assert.deepEqual(profile, {
      fullyQualifiedName: 'books.default.svc.cluster.local',
      retryBudget: { retryRatio: 0.25, minRetriesPerSecond: 3, ttlMs: 20_000 },
      routes: [
        {
          condition: {
            kind: 'all',
            matches: [
              { kind: 'method', method: 'GET' },
              { kind: 'path', regex: '/books/\\d+' },
              { kind: 'not', match: { kind: 'method', method: 'PURGE' } },
            ],
          },
          responseClasses: [{ condition: { kind: 'status', min: 500, max: 599 }, isFailure: true }],
          labels: { route: 'GET /books/{id}' },
          isRetryable: true,
          timeoutMs: 1500,
        },
        { condition: { kind: 'none' }, responseClasses: [], labels: {}, isRetryable: false, timeoutMs: undefined },
      ],
    });
  });

  it('reads an enum GET (value 0) even when the oneof case is all that was sent', () => {
    assert.deepEqual(decodeRequestMatch({ match: 'method', method: { type: 'registered' } }), { kind: 'method', method: 'GET' });
  });

  it('refuses condition trees nested deeper than anyone writes', () => {
    let deep: object = { match: 'path', path: { regex: '/x' } };
    for (let i = 0; i < 40; i++) deep = { match: 'not', not: deep };
    let decoded = decodeRequestMatch(deep);
    let depth = 0;
    while (decoded.kind === 'not') {
      decoded = decoded.match;
      depth++;
    }
    assert.equal(decoded.kind, 'none');
    assert.ok(depth < 40);
  });

  it('reads durations as milliseconds', () => {
    assert.equal(durationMs({ seconds: '10' }), 10_000);
    assert.equal(durationMs({ nanos: 250_000_000 }), 250);
    assert.equal(durationMs(undefined), undefined);
  });
});
