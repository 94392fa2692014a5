// decodeSockaddr: the original destination that SO_ORIGINAL_DST hands back, as a sockaddr_in or
// sockaddr_in6 (Linux layout: family in host byte order, port and address in network byte order).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import os from 'node:os';
import fc from 'fast-check';
import { decodeSockaddr } from './syscalls.ts';

const AF_INET = 2;
const AF_INET6 = 10;

/** A sockaddr_in (16 bytes): family, port, address, zero padding. */
function sockaddrIn(octets: readonly number[], port: number): Buffer {
  const buf = Buffer.alloc(16);
  writeFamily(buf, AF_INET);
  buf.writeUInt16BE(port, 2);
  Buffer.from(octets).copy(buf, 4);
  return buf;
}

/** A sockaddr_in6 (28 bytes): family, port, flow info, 16-byte address, scope id. */
function sockaddrIn6(words: readonly number[], port: number, flowInfo = 0, scopeId = 0): Buffer {
  const buf = Buffer.alloc(28);
  writeFamily(buf, AF_INET6);
  buf.writeUInt16BE(port, 2);
  buf.writeUInt32BE(flowInfo, 4);
  words.forEach((w, i) => buf.writeUInt16BE(w, 8 + 2 * i));
  buf.writeUInt32LE(scopeId, 24);
  return buf;
}

/** sa_family_t is in host byte order; every Linux target Node supports here is little-endian. */
function writeFamily(buf: Buffer, family: number): void {
  assert.equal(os.endianness(), 'LE');
  buf.writeUInt16LE(family, 0);
}

/** Eight 16-bit words from an IPv6 address in its full, uncompressed text form. */
const words = (full: string): number[] => full.split(':').map((w) => parseInt(w, 16));

describe('decodeSockaddr: sockaddr_in', () => {
  it('decodes an IPv4 address and port', () => {
    assert.deepEqual(decodeSockaddr(sockaddrIn([10, 1, 2, 3], 8080), 16), { host: '10.1.2.3', port: 8080 });
  });

  it('reads the port in network byte order', () => {
    assert.deepEqual(decodeSockaddr(sockaddrIn([127, 0, 0, 1], 0x1234), 16), { host: '127.0.0.1', port: 0x1234 });
    assert.deepEqual(decodeSockaddr(sockaddrIn([255, 255, 255, 255], 65535), 16), { host: '255.255.255.255', port: 65535 });
    assert.deepEqual(decodeSockaddr(sockaddrIn([0, 0, 0, 0], 1), 16), { host: '0.0.0.0', port: 1 });
  });

  it('needs the whole 16-byte sockaddr_in', () => {
    const buf = sockaddrIn([10, 0, 0, 1], 80);
    assert.equal(decodeSockaddr(buf, 15), undefined);
    assert.equal(decodeSockaddr(buf, 7), undefined);
    assert.equal(decodeSockaddr(buf, 0), undefined);
  });

  it('decodes any address and port', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 4, maxLength: 4 }), fc.integer({ min: 0, max: 65535 }), (octets, port) => {
        const decoded = decodeSockaddr(sockaddrIn(octets, port), 16);
        assert.deepEqual(decoded, { host: octets.join('.'), port });
        assert.ok(net.isIPv4(decoded?.host ?? ''));
      }),
    );
  });
});

describe('decodeSockaddr: sockaddr_in6', () => {
  const cases: Array<[string, string]> = [
    ['0:0:0:0:0:0:0:1', '::1'],
    ['0:0:0:0:0:0:0:0', '::'],
    ['fd00:0:0:0:0:0:1:2', 'fd00::1:2'],
    ['2001:db8:0:0:0:0:0:0', '2001:db8::'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:db8:0:1:0:0:0:1', '2001:db8:0:1::1'],
    ['1:0:1:0:1:0:1:0', '1:0:1:0:1:0:1:0'],
    ['fe80:0:0:0:abcd:ef01:2345:6789', 'fe80::abcd:ef01:2345:6789'],
    ['2001:0db8:85a3:0000:0000:8a2e:0370:7334', '2001:db8:85a3::8a2e:370:7334'],
    ['ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'],
  ];
  for (const [full, text] of cases) {
    it(`writes ${full} as ${text} (RFC 5952: lowercase, no leading zeros, first longest zero run as ::)`, () => {
      assert.deepEqual(decodeSockaddr(sockaddrIn6(words(full), 4143), 28), { host: text, port: 4143 });
    });
  }

  it('writes an IPv4-mapped address with a dotted tail, ::ffff:a.b.c.d, as Node reports such peers', () => {
    assert.deepEqual(decodeSockaddr(sockaddrIn6(words('0:0:0:0:0:ffff:a00:1'), 80), 28), { host: '::ffff:10.0.0.1', port: 80 });
    assert.deepEqual(decodeSockaddr(sockaddrIn6(words('0:0:0:0:0:ffff:7f00:1'), 80), 28), { host: '::ffff:127.0.0.1', port: 80 });
  });

  it('ignores the flow info and scope id', () => {
    assert.deepEqual(decodeSockaddr(sockaddrIn6(words('fe80:0:0:0:0:0:0:1'), 443, 0xabcdef, 3), 28), { host: 'fe80::1', port: 443 });
  });

  it('needs the whole 28-byte sockaddr_in6', () => {
    const buf = sockaddrIn6(words('0:0:0:0:0:0:0:1'), 80);
    assert.equal(decodeSockaddr(buf, 27), undefined);
    assert.equal(decodeSockaddr(buf, 16), undefined);
  });

  it('writes any address exactly as Node itself does (net.SocketAddress, i.e. libuv inet_ntop)', () => {
    // Zero words are common in real addresses and decide the compression, so favour them.
    const word = fc.oneof(fc.constant(0), fc.constant(0xffff), fc.integer({ min: 0, max: 0xffff }));
    fc.assert(
      fc.property(fc.array(word, { minLength: 8, maxLength: 8 }), fc.integer({ min: 0, max: 65535 }), (w, port) => {
        const full = w.map((x) => x.toString(16)).join(':');
        const expected = new net.SocketAddress({ address: full, family: 'ipv6' }).address;
        const decoded = decodeSockaddr(sockaddrIn6(w, port), 28);
        assert.deepEqual(decoded, { host: expected, port }, full);
        assert.ok(net.isIPv6(decoded?.host ?? ''));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('decodeSockaddr: anything else', () => {
  it('is undefined for another address family', () => {
    const buf = sockaddrIn([10, 0, 0, 1], 80);
    buf.writeUInt16LE(1 /* AF_UNIX */, 0);
    assert.equal(decodeSockaddr(buf, 16), undefined);
  });

  it('is undefined, rather than throwing, when the length claims more than the buffer holds', () => {
    assert.equal(decodeSockaddr(sockaddrIn([10, 0, 0, 1], 80).subarray(0, 12), 16), undefined);
    assert.equal(decodeSockaddr(Buffer.alloc(4), 28), undefined);
    assert.equal(decodeSockaddr(sockaddrIn6(words('0:0:0:0:0:0:0:1'), 80).subarray(0, 20), 28), undefined);
  });

  it('ignores bytes past the given length', () => {
    const buf = Buffer.concat([sockaddrIn([10, 0, 0, 1], 80), Buffer.alloc(12, 0xff)]);
    assert.deepEqual(decodeSockaddr(buf, 16), { host: '10.0.0.1', port: 80 });
  });

  it('never throws, whatever the bytes and length', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 32 }), fc.integer({ min: -1, max: 64 }), (bytes, length) => {
        const decoded = decodeSockaddr(Buffer.from(bytes), length);
        if (decoded !== undefined) assert.ok(net.isIP(decoded.host) !== 0);
      }),
    );
  });
});
