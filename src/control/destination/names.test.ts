import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { AuthorityError, parseAuthority, parseContextToken, splitHostPort } from './names.ts';

const D = 'cluster.local';

describe('parseAuthority', () => {
  test('Service names, with and without port, trailing dot, upper case', () => {
    assert.deepEqual(parseAuthority('web.emojivoto.svc.cluster.local:8080', D), {
      kind: 'service',
      namespace: 'emojivoto',
      service: 'web',
      port: 8080,
      instance: undefined,
      fqdn: 'web.emojivoto.svc.cluster.local',
    });
    assert.equal((parseAuthority('web.emojivoto.svc.cluster.local', D) as { port: number }).port, 80);
    assert.equal((parseAuthority('web.emojivoto.svc.cluster.local.:81', D) as { port: number }).port, 81);
    assert.equal((parseAuthority('WEB.Emojivoto.SVC.cluster.local', D) as { service: string }).service, 'web');
  });

  test('a pod hostname in front of the Service name', () => {
    const a = parseAuthority('emoji-0.emoji.emojivoto.svc.cluster.local:8080', D);
    assert.equal(a.kind, 'service');
    assert.equal(a.kind === 'service' && a.instance, 'emoji-0');
    assert.equal(a.kind === 'service' && a.fqdn, 'emoji.emojivoto.svc.cluster.local');
  });

  test('another cluster domain', () => {
    assert.equal(parseAuthority('a.b.svc.example.org.:80', 'Example.Org.').kind, 'service');
    assert.throws(() => parseAuthority('a.b.svc.cluster.local:80', 'example.org'), AuthorityError);
  });

  test('IP addresses', () => {
    assert.deepEqual(parseAuthority('10.0.0.1:8080', D), { kind: 'ip', ip: '10.0.0.1', port: 8080 });
    assert.deepEqual(parseAuthority('[fd00::1]:8080', D), { kind: 'ip', ip: 'fd00::1', port: 8080 });
    assert.deepEqual(parseAuthority('fd00::1', D), { kind: 'ip', ip: 'fd00::1', port: 80 });
    assert.deepEqual(parseAuthority('10.0.0.1', D), { kind: 'ip', ip: '10.0.0.1', port: 80 });
  });

  test('everything else is an AuthorityError', () => {
    for (const bad of [
      '',
      ':80',
      'web:80',
      'web.emojivoto:80',
      'web.emojivoto.svc:80',
      'example.com:443',
      'a.b.c.d.svc.cluster.local:80',
      'web.emojivoto.svc.cluster.local:0',
      'web.emojivoto.svc.cluster.local:65536',
      'web.emojivoto.svc.cluster.local:http',
      'we_b.emojivoto.svc.cluster.local:80',
      '-web.emojivoto.svc.cluster.local:80',
      '[fd00::1',
      '[fd00::1]x',
      'fe80::1%eth0',
    ]) {
      assert.throws(() => parseAuthority(bad, D), AuthorityError, bad);
    }
  });
});

describe('parseAuthority properties (fast-check)', () => {
  const label = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?$/);
  test('every <svc>.<ns>.svc.<domain>[:port][.] parses back to its parts', () => {
    fc.assert(
      fc.property(
        label,
        label,
        fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }),
        fc.boolean(),
        fc.boolean(),
        (svc, ns, port, dot, upper) => {
          let host = `${svc}.${ns}.svc.cluster.local${dot ? '.' : ''}`;
          if (upper) host = host.toUpperCase();
          const a = parseAuthority(port === undefined ? host : `${host}:${port}`, D);
          assert.deepEqual(a, {
            kind: 'service',
            namespace: ns,
            service: svc,
            port: port ?? 80,
            instance: undefined,
            fqdn: `${svc}.${ns}.svc.cluster.local`,
          });
        },
      ),
    );
  });

  test('arbitrary text either parses or throws AuthorityError, nothing else', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...'ab.-:[]19%svcluster'.split('')), maxLength: 40 }), (text) => {
        try {
          const a = parseAuthority(text, D);
          assert.ok(a.port >= 1 && a.port <= 65535);
        } catch (error) {
          assert.ok(error instanceof AuthorityError, String(error));
        }
      }),
      { numRuns: 3000 },
    );
  });

  test('IP literals are always recognised as IPs', () => {
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), fc.ipV6()), fc.integer({ min: 1, max: 65535 }), (ip, port) => {
        const text = ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
        assert.deepEqual(parseAuthority(text, D), { kind: 'ip', ip, port });
      }),
    );
  });
});

test('splitHostPort', () => {
  assert.deepEqual(splitHostPort('a:1'), { host: 'a', port: 1 });
  assert.deepEqual(splitHostPort('[::1]'), { host: '::1', port: 80 });
});

describe('parseContextToken', () => {
  test('JSON form', () => {
    assert.deepEqual(parseContextToken('{"ns":"emojivoto","nodeName":"node-1","pod":"web-1"}'), {
      ns: 'emojivoto',
      nodeName: 'node-1',
      pod: 'web-1',
    });
    assert.deepEqual(parseContextToken('{"ns":"emojivoto"}'), { ns: 'emojivoto', nodeName: undefined, pod: undefined });
  });

  test('legacy ns: form', () => {
    assert.deepEqual(parseContextToken('ns:emojivoto'), { ns: 'emojivoto', nodeName: undefined, pod: undefined });
  });

  test('empty or unreadable tokens carry nothing', () => {
    for (const token of [undefined, '', '{', '[]', 'null', '{"ns":5}', 'ns:', 'ns:Bad_NS', 'garbage', '{"ns":"a b"}']) {
      assert.equal(parseContextToken(token).ns, undefined, String(token));
    }
  });
});
