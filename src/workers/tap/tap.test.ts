// Tap in a serving thread, without sockets: compiling ObserveRequest matches, matching requests,
// addresses on the wire, the limit shared through memory, and the events a stream emits.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidTapMatch, compileMatch, ipBytes, ipFromMessage, matches, tcpAddress, type MatchMessage, type TapRequest } from './match.ts';
import { TapRegistry, type TapInstall, type TapOut } from './registry.ts';

const request: TapRequest = {
  direction: 'outbound',
  source: { host: '10.0.0.7', port: 40000 },
  destination: { host: '10.1.2.3', port: 8080 },
  destinationLabels: { namespace: 'emojivoto', deployment: 'web' },
  method: 'GET',
  scheme: 'http',
  authority: 'Web.emojivoto.svc:8080',
  path: '/api/list',
};

const test = (match: MatchMessage | undefined, req: Partial<TapRequest> = {}): boolean => matches(compileMatch(match), { ...request, ...req });

describe('compileMatch and matches', () => {
  it('selects everything when there is no match', () => {
    assert.equal(test(undefined), true);
  });

  it('http: method (registered and not), scheme, authority (case-insensitive) and path (exact, prefix)', () => {
    assert.equal(test({ http: { method: { registered: 'GET' } } }), true);
    assert.equal(test({ http: { method: { registered: 'POST' } } }), false);
    assert.equal(test({ http: { method: { unregistered: 'PURGE' } } }, { method: 'PURGE' }), true);
    assert.equal(test({ http: { scheme: { registered: 'HTTP' } } }), true);
    assert.equal(test({ http: { scheme: { registered: 'HTTPS' } } }), false);
    assert.equal(test({ http: { authority: { exact: 'web.emojivoto.svc:8080' } } }), true);
    assert.equal(test({ http: { authority: { prefix: 'WEB.' } } }), true);
    assert.equal(test({ http: { authority: { exact: 'web' } } }), false);
    assert.equal(test({ http: { path: { exact: '/api/list' } } }), true);
    assert.equal(test({ http: { path: { exact: '/api' } } }), false);
    assert.equal(test({ http: { path: { prefix: '/api/' } } }), true);
    assert.equal(test({ http: { path: { prefix: '/API/' } } }), false, 'paths are case-sensitive');
  });

  it('tcp: netmasks (IPv4, IPv6, /0 … /32) and port ranges on either side', () => {
    const v4 = (a: number, b: number, c: number, d: number): number => ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
    assert.equal(test({ source: { netmask: { ip: { ipv4: v4(10, 0, 0, 0) }, mask: 8 } } }), true);
    assert.equal(test({ source: { netmask: { ip: { ipv4: v4(10, 0, 0, 0) }, mask: 30 } } }), false);
    assert.equal(test({ source: { netmask: { ip: { ipv4: v4(10, 0, 0, 7) } } } }), true, 'no mask: the address itself');
    assert.equal(test({ source: { netmask: { ip: { ipv4: v4(10, 0, 0, 8) } } } }), false);
    assert.equal(test({ destination: { netmask: { ip: { ipv4: v4(10, 1, 2, 0) }, mask: 23 } } }), true);
    assert.equal(test({ destination: { netmask: { ip: { ipv4: v4(11, 0, 0, 0) }, mask: 7 } } }), true, '10/7 contains 11');
    assert.equal(test({ destination: { ports: { min: 8000, max: 8100 } } }), true);
    assert.equal(test({ destination: { ports: { min: 8080 } } }), true, 'one bound: that port');
    assert.equal(test({ destination: { ports: { max: 8081 } } }), false);
    assert.equal(test({ source: { ports: { min: 1, max: 1024 } } }), false);

    const v6 = { source: { host: '2001:db8::1:7', port: 1 } };
    // 2001:0db8:0000:0000 / 0000:0000:0001:0000
    const net = { ipv6: { first: String(0x20010db8n << 32n), last: '0' } };
    assert.equal(test({ source: { netmask: { ip: net, mask: 32 } } }, v6), true);
    assert.equal(test({ source: { netmask: { ip: net, mask: 112 } } }, v6), false);
    assert.equal(test({ source: { netmask: { ip: net, mask: 96 } } }, v6), true);
    assert.equal(test({ source: { netmask: { ip: { ipv4: 0 }, mask: 1 } } }, v6), false, 'families never match');
    assert.equal(test({ destination: { ports: { min: 1 } } }, { destination: undefined }), false, 'an unknown destination');
  });

  it('labels: destination labels when the proxy knows them; route labels never (no routes yet)', () => {
    assert.equal(test({ destination_label: { key: 'deployment', value: 'web' } }), true);
    assert.equal(test({ destination_label: { key: 'deployment', value: 'vote' } }), false);
    assert.equal(test({ destination_label: { key: 'deployment', value: 'web' } }, { destinationLabels: undefined }), false);
    assert.equal(test({ route_label: { key: 'route', value: 'GET /api/list' } }), false);
  });

  it('all, any, not (an empty all is true, an empty any false)', () => {
    const get = { http: { method: { registered: 'GET' } } };
    const post = { http: { method: { registered: 'POST' } } };
    assert.equal(test({ all: { matches: [get, { http: { path: { prefix: '/api' } } }] } }), true);
    assert.equal(test({ all: { matches: [get, post] } }), false);
    assert.equal(test({ any: { matches: [get, post] } }), true);
    assert.equal(test({ not: post }), true);
    assert.equal(test({ not: { any: { matches: [get, post] } } }), false);
    assert.equal(test({ all: {} }), true);
    assert.equal(test({ any: {} }), false);
  });

  it('refuses matches it cannot evaluate', () => {
    const bad: MatchMessage[] = [
      {},
      { not: {} },
      { http: {} },
      { http: { path: {} } },
      { http: { method: {} } },
      { source: {} },
      { source: { netmask: {} } },
      { source: { netmask: { ip: { ipv4: 1 }, mask: 33 } } },
      { destination: { ports: {} } },
      { destination: { ports: { min: 10, max: 9 } } },
      { destination: { ports: { min: 70000 } } },
      { destination_label: { value: 'x' } },
    ];
    for (const match of bad) assert.throws(() => compileMatch(match), InvalidTapMatch, JSON.stringify(match));
  });
});

describe('addresses', () => {
  it('parses IPv4, IPv6 (compressed, embedded IPv4, zones) and maps ::ffff:a.b.c.d to IPv4', () => {
    assert.deepEqual([...(ipBytes('10.1.2.3') ?? [])], [10, 1, 2, 3]);
    assert.deepEqual([...(ipBytes('::ffff:127.0.0.1') ?? [])], [127, 0, 0, 1]);
    assert.deepEqual([...(ipBytes('::1') ?? [])], [...Array<number>(15).fill(0), 1]);
    assert.deepEqual([...(ipBytes('2001:db8::') ?? [])], [0x20, 0x01, 0x0d, 0xb8, ...Array<number>(12).fill(0)]);
    assert.deepEqual([...(ipBytes('fe80::1%eth0') ?? [])], [0xfe, 0x80, ...Array<number>(13).fill(0), 1]);
    assert.deepEqual([...(ipBytes('64:ff9b::192.0.2.33') ?? [])], [0, 0x64, 0xff, 0x9b, ...Array<number>(8).fill(0), 192, 0, 2, 33]);
    assert.equal(ipBytes('web.svc'), undefined);
  });

  it('writes net.TcpAddress messages (fixed64 halves as exact decimal strings) and reads them back', () => {
    assert.deepEqual(tcpAddress({ host: '127.0.0.1', port: 80 }), { ip: { ipv4: 0x7f000001 }, port: 80 });
    assert.deepEqual(tcpAddress({ host: 'web', port: 80 }), { port: 80 });
    const v6 = tcpAddress({ host: 'ffff:ffff:ffff:ffff:0:0:0:1', port: 443 }) as { ip: { ipv6: { first: string; last: string } } };
    assert.deepEqual(v6.ip.ipv6, { first: '18446744073709551615', last: '1' });
    assert.deepEqual([...(ipFromMessage(v6.ip) ?? [])], [...(ipBytes('ffff:ffff:ffff:ffff::1') ?? [])]);
    assert.deepEqual([...(ipFromMessage({ ipv4: 0x0a010203 }) ?? [])], [10, 1, 2, 3]);
  });
});

function install(registry: TapRegistry, id: number, overrides: Partial<TapInstall> = {}): TapInstall {
  const tap: TapInstall = {
    id,
    match: compileMatch(undefined),
    limit: 0,
    claimed: new Int32Array(new SharedArrayBuffer(4)),
    base: 1234,
    streams: new BigInt64Array(new SharedArrayBuffer(8)),
    headers: false,
    ...overrides,
  };
  registry.install(tap);
  return tap;
}

async function drain(registry: TapRegistry): Promise<TapOut[]> {
  const out: TapOut[] = [];
  registry.sink = (events) => out.push(...events);
  await new Promise((resolve) => setImmediate(resolve));
  return out;
}

describe('TapRegistry', () => {
  it('is inactive with no tap; active while one is installed', () => {
    const registry = new TapRegistry();
    assert.equal(registry.active, false);
    install(registry, 1);
    assert.equal(registry.active, true);
    registry.remove(1);
    assert.equal(registry.active, false);
    assert.equal(registry.start(request, () => []), undefined);
  });

  it('claims requests from the shared limit, so no more than `limit` are selected across threads', () => {
    const claimed = new Int32Array(new SharedArrayBuffer(4));
    const streams = new BigInt64Array(new SharedArrayBuffer(8));
    // Two registries stand for two worker threads sharing the tap's memory.
    const a = new TapRegistry();
    const b = new TapRegistry();
    install(a, 1, { limit: 3, claimed, streams });
    install(b, 1, { limit: 3, claimed, streams });
    const selected = [a, b, a, b, a, b].map((r) => r.start(request, () => []) !== undefined);
    assert.deepEqual(selected, [true, true, true, false, false, false]);
  });

  it('emits request_init, response_init and response_end with one StreamId, batched per turn', async () => {
    const registry = new TapRegistry();
    install(registry, 7);
    const stream = registry.start(request, () => [])!;
    stream.responseInit(200, () => []);
    stream.bytes += 12;
    stream.responseEnd({ grpc_status_code: 0 }, () => undefined);
    stream.responseEnd(undefined, () => undefined); // a second end is ignored
    const out = await drain(registry);
    assert.deepEqual(
      out.map((o) => [o.tap, o.done, Object.keys((o.event as { http: object }).http)[0]]),
      [
        [7, false, 'request_init'],
        [7, false, 'response_init'],
        [7, true, 'response_end'],
      ],
    );
    const [init, , end] = out.map((o) => o.event as Record<string, any>);
    assert.deepEqual(init?.['http'].request_init.id, { base: 1234, stream: '1' });
    assert.deepEqual(init?.['http'].request_init.method, { registered: 'GET' });
    assert.equal(init?.['proxy_direction'], 'OUTBOUND');
    assert.deepEqual(init?.['destination_meta'], { labels: { namespace: 'emojivoto', deployment: 'web', tls: 'disabled' } });
    assert.deepEqual(end?.['http'].response_end.eos, { grpc_status_code: 0 });
    assert.equal(end?.['http'].response_end.response_bytes, '12');
  });

  it('adds headers only for taps that asked, and stops emitting for a removed tap', async () => {
    const registry = new TapRegistry();
    install(registry, 1, { headers: true });
    install(registry, 2);
    const stream = registry.start(request, () => [{ name: 'x-a', value: Buffer.from('1') }])!;
    registry.remove(1);
    stream.responseInit(204, () => []);
    const out = await drain(registry);
    assert.deepEqual(
      out.map((o) => [o.tap, 'headers' in ((o.event as Record<string, any>)['http'].request_init ?? {})]),
      [
        [1, true],
        [2, false],
        [2, false],
      ],
    );
  });
});
