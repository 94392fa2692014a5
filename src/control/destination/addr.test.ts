import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { LOADER_OPTIONS } from '../../api/proto.ts';
import {
  canonicalIp,
  decodeIp,
  decodeTcpAddress,
  encodeIp,
  encodeTcpAddress,
  formatAddr,
  ipv6Groups,
  toUint64,
} from './addr.ts';

/** Node's URL parser is an independent IPv6 canonicaliser (RFC 5952 style). */
const urlCanonical = (ip: string): string => new URL(`http://[${ip}]/`).hostname.slice(1, -1);

describe('IPv4', () => {
  test('one fixed32, big-endian octets', () => {
    assert.deepEqual(encodeIp('10.42.0.11'), { ipv4: (10 << 24 >>> 0) + (42 << 16) + 11 });
    assert.deepEqual(encodeIp('255.255.255.255'), { ipv4: 0xffffffff });
    assert.deepEqual(encodeIp('0.0.0.0'), { ipv4: 0 });
    assert.equal(decodeIp({ ipv4: 0x7f000001, ip: 'ipv4' }), '127.0.0.1');
    assert.equal(decodeIp({ ipv4: 0 }), '0.0.0.0');
  });
});

describe('IPv6', () => {
  test('two fixed64 halves, most significant first, as exact decimal strings', () => {
    assert.deepEqual(encodeIp('::1'), { ipv6: { first: '0', last: '1' } });
    assert.deepEqual(encodeIp('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'), {
      ipv6: { first: '18446744073709551615', last: '18446744073709551615' },
    });
    assert.deepEqual(encodeIp('fd00::11'), { ipv6: { first: (0xfd00n << 48n).toString(), last: '17' } });
    assert.equal(decodeIp({ ipv6: { first: (0xfd00n << 48n).toString(), last: '17' }, ip: 'ipv6' }), 'fd00::11');
  });

  test('embedded IPv4 tails and canonical text', () => {
    assert.deepEqual(ipv6Groups('::ffff:1.2.3.4'), [0, 0, 0, 0, 0, 0xffff, 0x0102, 0x0304]);
    assert.deepEqual(ipv6Groups('1::1.2.3.4'), [1, 0, 0, 0, 0, 0, 0x0102, 0x0304]);
    assert.equal(canonicalIp('2001:DB8:0:0:1:0:0:1'), '2001:db8::1:0:0:1');
    assert.equal(canonicalIp('2001:db8:0:1:1:1:1:1'), '2001:db8:0:1:1:1:1:1');
    assert.equal(canonicalIp('0:0:0:0:0:0:0:0'), '::');
    assert.throws(() => encodeIp('fe80::1%eth0'));
    assert.throws(() => encodeIp('not-an-ip'));
  });

  test('fixed64 decoding accepts strings, bigints, safe numbers and Long-like objects', () => {
    assert.equal(toUint64('18446744073709551615'), 2n ** 64n - 1n);
    assert.equal(toUint64(-1n), 2n ** 64n - 1n);
    assert.equal(toUint64(42), 42n);
    assert.equal(toUint64({ low: -1, high: -1, unsigned: true }), 2n ** 64n - 1n);
    assert.throws(() => toUint64(2 ** 60), /precision/);
  });
});

describe('round trips (fast-check)', () => {
  test('decode(encode(ip)) is the canonical form of ip, for any IPv4 and IPv6 text', () => {
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), fc.ipV6()), fc.integer({ min: 1, max: 65535 }), (ip, port) => {
        const decoded = decodeTcpAddress(encodeTcpAddress(ip, port));
        assert.equal(decoded.port, port);
        assert.equal(decoded.ip, canonicalIp(ip));
        if (ip.includes(':')) assert.equal(decoded.ip, urlCanonical(ip));
        else assert.equal(decoded.ip, ip);
      }),
      { numRuns: 2000 },
    );
  });

  test('every 128-bit value survives grpc-js serialization (an Update.remove) both ways', () => {
    // Server side: the project's loader options; client side: 64-bit values as strings (exact).
    const serverDef = protoLoader.loadSync('destination.proto', LOADER_OPTIONS);
    const clientDef = protoLoader.loadSync('destination.proto', { ...LOADER_OPTIONS, longs: String });
    const method = (def: protoLoader.PackageDefinition): grpc.MethodDefinition<unknown, unknown> =>
      (def['io.linkerd.proxy.destination.Destination'] as grpc.ServiceDefinition)['Get'] as grpc.MethodDefinition<unknown, unknown>;
    const serialize = method(serverDef).responseSerialize;
    const deserialize = method(clientDef).responseDeserialize;
    const group = fc.integer({ min: 0, max: 0xffff });
    fc.assert(
      fc.property(fc.array(group, { minLength: 8, maxLength: 8 }), fc.integer({ min: 1, max: 65535 }), (groups, port) => {
        const ip = groups.map((g) => g.toString(16)).join(':');
        const bytes = serialize({ remove: { addrs: [encodeTcpAddress(ip, port)] } });
        const back = deserialize(bytes) as { remove: { addrs: unknown[] } };
        assert.deepEqual(decodeTcpAddress(back.remove.addrs[0]), { ip: canonicalIp(ip), port });
      }),
      { numRuns: 1000 },
    );
  });
});

test('formatAddr: the endpoint key', () => {
  assert.equal(formatAddr('10.0.0.1', 80), '10.0.0.1:80');
  assert.equal(formatAddr('FD00:0::11', 8080), '[fd00::11]:8080');
});
