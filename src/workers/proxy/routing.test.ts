// Where a connection or an HTTP request goes: authorities as the proxy reads them, the loop guard
// (never send a request back to the proxy's own listener), and the precedence of authority, original
// destination and forward address.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { formatHostPort, type HostPort } from '../../config/parse.ts';
import {
  AuthorityCache,
  connectionTarget,
  httpTarget,
  namesListener,
  parseAuthority,
  type ConnectionInfo,
  type ForwardAddrs,
} from './routing.ts';

const hp = (host: string, port: number): HostPort => ({ host, port });

describe('parseAuthority', () => {
  it('reads host:port', () => {
    assert.deepEqual(parseAuthority('web.default.svc.cluster.local:8080', 80), hp('web.default.svc.cluster.local', 8080));
    assert.deepEqual(parseAuthority('10.0.0.7:9000', 80), hp('10.0.0.7', 9000));
  });

  it('uses the default port when the authority has none (or an empty one)', () => {
    assert.deepEqual(parseAuthority('web', 80), hp('web', 80));
    assert.deepEqual(parseAuthority('web:', 80), hp('web', 80));
    assert.deepEqual(parseAuthority('web', 443), hp('web', 443));
  });

  it('reads bracketed IPv6 with and without a port, returning the address without brackets', () => {
    assert.deepEqual(parseAuthority('[::1]:4140', 80), hp('::1', 4140));
    assert.deepEqual(parseAuthority('[fd00::7]', 80), hp('fd00::7', 80));
    assert.deepEqual(parseAuthority('[::ffff:10.0.0.1]:80', 80), hp('::ffff:10.0.0.1', 80));
  });

  it('lowercases hosts: names are case-insensitive and the metrics label is one series', () => {
    assert.deepEqual(parseAuthority('Web.Default.SVC:80', 80), hp('web.default.svc', 80));
    assert.deepEqual(parseAuthority('[FD00::ABCD]:80', 80), hp('fd00::abcd', 80));
  });

  it('accepts ports 1 to 65535, with leading zeros', () => {
    assert.deepEqual(parseAuthority('web:1', 80), hp('web', 1));
    assert.deepEqual(parseAuthority('web:65535', 80), hp('web', 65535));
    assert.deepEqual(parseAuthority('web:08080', 80), hp('web', 8080));
  });

  for (const bad of ['web:0', 'web:65536', 'web:123456', 'web:-1', 'web:http', 'web:80:80', '[::1]:0', '[::1]:99999']) {
    it(`rejects the bad port in ${JSON.stringify(bad)}`, () => {
      assert.equal(parseAuthority(bad, 80), undefined);
    });
  }

  for (const bad of [
    '',
    ':80',
    '::1',
    '::1:80',
    '[::1',
    '[::1]80',
    '[web]:80',
    '[1.2.3.4]:80',
    'user@web:80',
    'web/path',
    'web?x',
    'we b',
    'web\r\n',
    'wéb',
    'web%2f',
    'http://web',
  ]) {
    it(`rejects the junk ${JSON.stringify(bad)}`, () => {
      assert.equal(parseAuthority(bad, 80), undefined);
    });
  }

  it('rejects authorities longer than 1024 characters', () => {
    assert.equal(parseAuthority(`${'a'.repeat(1025)}`, 80), undefined);
    assert.deepEqual(parseAuthority(`${'a'.repeat(1018)}:80`, 80), hp('a'.repeat(1018), 80));
  });

  const host = fc.oneof(fc.ipV4(), fc.ipV6(), fc.domain());
  const port = fc.integer({ min: 1, max: 65535 });

  it('reads back what formatHostPort writes, host lowercased', () => {
    fc.assert(
      fc.property(host, port, fc.integer({ min: 1, max: 65535 }), (h, p, defaultPort) => {
        assert.deepEqual(parseAuthority(formatHostPort(hp(h, p)), defaultPort), hp(h.toLowerCase(), p));
      }),
    );
  });

  it('gives the default port to an authority without one', () => {
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), fc.domain(), fc.ipV6().map((a) => `[${a}]`)), port, (authority, defaultPort) => {
        const parsed = parseAuthority(authority, defaultPort);
        assert.equal(parsed?.port, defaultPort);
      }),
    );
  });

  it('never throws; whatever it accepts has a lowercase host and a port in 1–65535', () => {
    const input = fc.oneof(
      fc.string(),
      fc.string({ unit: fc.constantFrom('a', 'Z', '0', '9', ':', '[', ']', '.', '-', '@', ' ', 'f'), maxLength: 24 }),
    );
    fc.assert(
      fc.property(input, (text) => {
        const parsed = parseAuthority(text, 80);
        if (parsed === undefined) return;
        assert.equal(parsed.host, parsed.host.toLowerCase());
        assert.ok(parsed.host.length > 0);
        assert.ok(Number.isInteger(parsed.port) && parsed.port >= 1 && parsed.port <= 65535);
        assert.deepEqual(parseAuthority(formatHostPort(parsed), 80), parsed);
      }),
    );
  });
});

describe('namesListener (the loop guard)', () => {
  const outbound = hp('127.0.0.1', 4140);

  it('is false for another port, whatever the host', () => {
    assert.equal(namesListener(hp('127.0.0.1', 4141), outbound), false);
    assert.equal(namesListener(hp('localhost', 80), outbound), false);
  });

  it('is true for the listener address itself', () => {
    assert.equal(namesListener(hp('127.0.0.1', 4140), outbound), true);
    assert.equal(namesListener(hp('10.0.0.5', 4143), hp('10.0.0.5', 4143)), true);
  });

  it('is true for any loopback spelling of a loopback listener: localhost, 127/8, ::1, ::ffff:127.x', () => {
    for (const host of ['localhost', '127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1', '::ffff:127.0.0.53']) {
      assert.equal(namesListener(hp(host, 4140), outbound), true, host);
      assert.equal(namesListener(hp(host, 4140), hp('::1', 4140)), true, `${host} vs ::1`);
    }
  });

  it('is true for a wildcard address, which a connect on Linux turns into loopback', () => {
    assert.equal(namesListener(hp('0.0.0.0', 4140), outbound), true);
    assert.equal(namesListener(hp('::', 4140), outbound), true);
  });

  it('is true for any host on the port of a wildcard listener', () => {
    for (const listen of [hp('0.0.0.0', 4143), hp('::', 4143)]) {
      assert.equal(namesListener(hp('10.0.0.5', 4143), listen), true);
      assert.equal(namesListener(hp('web.default.svc', 4143), listen), true);
    }
  });

  it('is false for other hosts on the port of a specific listener', () => {
    assert.equal(namesListener(hp('10.0.0.5', 4140), outbound), false);
    assert.equal(namesListener(hp('web', 4140), outbound), false);
  });

  it('does not mistake a name that starts with 127. for a loopback address', () => {
    assert.equal(namesListener(hp('127.example.com', 4140), outbound), false);
    assert.equal(namesListener(hp('127.0.0.1.nip.io', 4140), outbound), false);
  });

  it('does not take a loopback address for a listener bound to another address', () => {
    assert.equal(namesListener(hp('127.0.0.1', 4143), hp('10.0.0.5', 4143)), false);
  });
});

const FORWARD: ForwardAddrs = {
  inboundForwardAddr: hp('127.0.0.1', 8080),
  outboundForwardAddr: hp('10.96.0.10', 9000),
};
const NO_FORWARD: ForwardAddrs = { inboundForwardAddr: undefined, outboundForwardAddr: undefined };
const ORIG = hp('10.0.0.9', 8080);
const OUT_LISTEN = hp('127.0.0.1', 4140);
const IN_LISTEN = hp('0.0.0.0', 4143);

const conn = (direction: 'inbound' | 'outbound', originalDst: HostPort | undefined): ConnectionInfo => ({
  direction,
  originalDst,
  listen: direction === 'inbound' ? IN_LISTEN : OUT_LISTEN,
});

describe('connectionTarget (TCP, and HTTP without a usable authority)', () => {
  it('goes to the original destination when the connection was redirected', () => {
    assert.deepEqual(connectionTarget(conn('inbound', ORIG), FORWARD), ORIG);
    assert.deepEqual(connectionTarget(conn('outbound', ORIG), FORWARD), ORIG);
  });

  it('otherwise goes to the forward address of its direction', () => {
    assert.deepEqual(connectionTarget(conn('inbound', undefined), FORWARD), FORWARD.inboundForwardAddr);
    assert.deepEqual(connectionTarget(conn('outbound', undefined), FORWARD), FORWARD.outboundForwardAddr);
  });

  it('has no target without either', () => {
    assert.equal(connectionTarget(conn('inbound', undefined), NO_FORWARD), undefined);
    assert.equal(connectionTarget(conn('outbound', undefined), NO_FORWARD), undefined);
  });
});

describe('httpTarget precedence', () => {
  const authority = hp('web.default.svc', 80);

  it('outbound: follows the authority, ahead of the original destination and the forward address', () => {
    assert.deepEqual(httpTarget(conn('outbound', ORIG), authority, FORWARD), authority);
    assert.deepEqual(httpTarget(conn('outbound', undefined), authority, FORWARD), authority);
    assert.deepEqual(httpTarget(conn('outbound', undefined), authority, NO_FORWARD), authority);
  });

  it('outbound: without an authority, uses the original destination, else the outbound forward address', () => {
    assert.deepEqual(httpTarget(conn('outbound', ORIG), undefined, FORWARD), ORIG);
    assert.deepEqual(httpTarget(conn('outbound', undefined), undefined, FORWARD), FORWARD.outboundForwardAddr);
    assert.equal(httpTarget(conn('outbound', undefined), undefined, NO_FORWARD), undefined);
  });

  it('outbound: ignores an authority naming the proxy itself (a client pointed straight at it)', () => {
    for (const self of [hp('127.0.0.1', 4140), hp('localhost', 4140), hp('::1', 4140), hp('0.0.0.0', 4140)]) {
      assert.deepEqual(httpTarget(conn('outbound', ORIG), self, FORWARD), ORIG, formatHostPort(self));
      assert.deepEqual(httpTarget(conn('outbound', undefined), self, FORWARD), FORWARD.outboundForwardAddr);
      assert.equal(httpTarget(conn('outbound', undefined), self, NO_FORWARD), undefined);
    }
  });

  it('inbound: always the original destination, whatever the authority says', () => {
    assert.deepEqual(httpTarget(conn('inbound', ORIG), authority, FORWARD), ORIG);
    assert.deepEqual(httpTarget(conn('inbound', ORIG), undefined, FORWARD), ORIG);
  });

  it('inbound: without an original destination, the inbound forward address, never the authority', () => {
    assert.deepEqual(httpTarget(conn('inbound', undefined), authority, FORWARD), FORWARD.inboundForwardAddr);
    assert.equal(httpTarget(conn('inbound', undefined), authority, NO_FORWARD), undefined);
  });
});

describe('AuthorityCache', () => {
  it('answers as parseAuthority does, including for malformed authorities', () => {
    const cache = new AuthorityCache();
    for (const text of ['web:8080', 'Web:8080', '[::1]:80', 'web:0', '', 'junk junk']) {
      assert.deepEqual(cache.get(text, 80), parseAuthority(text, 80), text);
      assert.deepEqual(cache.get(text, 80), parseAuthority(text, 80), `${text}, cached`);
    }
  });

  it('returns the cached result for a repeated authority', () => {
    const cache = new AuthorityCache();
    const first = cache.get('web:80', 80);
    assert.equal(cache.get('web:80', 80), first);
    assert.equal(cache.size, 1);
  });

  it('keeps results for different default ports apart', () => {
    const cache = new AuthorityCache();
    assert.deepEqual(cache.get('web', 80), hp('web', 80));
    assert.deepEqual(cache.get('web', 443), hp('web', 443));
    assert.deepEqual(cache.get('web', 80), hp('web', 80));
  });

  it('cannot confuse an authority containing NUL and digits with another default port', () => {
    const cache = new AuthorityCache();
    assert.deepEqual(cache.get('web', 443), hp('web', 443));
    assert.equal(cache.get('web\u0000443', 80), undefined);
    assert.deepEqual(cache.get('web', 443), hp('web', 443));
  });

  it('never holds more than its limit of entries', () => {
    const cache = new AuthorityCache(16);
    for (let i = 0; i < 100; i++) {
      cache.get(`host-${i}:80`, 80);
      cache.get(`host-${i}`, 8080);
      assert.ok(cache.size <= 16, `size ${cache.size} after ${i}`);
    }
    assert.deepEqual(cache.get('host-3:80', 80), hp('host-3', 80));
  });

  it('defaults to a limit of 1024', () => {
    const cache = new AuthorityCache();
    for (let i = 0; i < 3000; i++) cache.get(`h${i}`, 80);
    assert.ok(cache.size <= 1024);
    assert.ok(cache.size > 0);
  });

  it('for any sequence of lookups, agrees with parseAuthority and stays within its limit', () => {
    const lookup = fc.tuple(
      fc.oneof(fc.constantFrom('a', 'A', 'a:1', 'b:65536', '[::1]', 'a\u000080', ''), fc.string({ maxLength: 6 })),
      fc.constantFrom(80, 443, 8080),
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), fc.array(lookup, { maxLength: 60 }), (limit, lookups) => {
        const cache = new AuthorityCache(limit);
        for (const [authority, defaultPort] of lookups) {
          assert.deepEqual(cache.get(authority, defaultPort), parseAuthority(authority, defaultPort));
          assert.ok(cache.size <= limit);
        }
      }),
    );
  });
});
