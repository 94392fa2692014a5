// A worker's destination cache, with a fake channel to the main thread and an injected clock: which
// names are asked about, waiting for the first answer (bounded), fallback, updates, and release when idle.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseNetworks } from '../../config/networks.ts';
import type { DiscoveryState } from './state.ts';
import { DestinationCache, MAX_JUDGED_HOSTS, destinationKey, isDiscoverable, type Destination } from './destination-cache.ts';
import type { Endpoint } from '../balance/endpoints.ts';

const SUFFIXES = ['svc.cluster.local.'];
const NETWORKS = parseNetworks('test', '10.0.0.0/8,fd00::/8');

describe('isDiscoverable', () => {
  it('accepts names under a suffix (with or without the trailing dot, any case)', () => {
    assert.equal(isDiscoverable('web.default.svc.cluster.local', SUFFIXES, NETWORKS), true);
    assert.equal(isDiscoverable('Web.Default.SVC.cluster.local.', SUFFIXES, NETWORKS), true);
    assert.equal(isDiscoverable('svc.cluster.local', SUFFIXES, NETWORKS), false);
    assert.equal(isDiscoverable('web', SUFFIXES, NETWORKS), false);
    assert.equal(isDiscoverable('example.com', SUFFIXES, NETWORKS), false);
    assert.equal(isDiscoverable('example.com', ['.'], NETWORKS), true);
    assert.equal(isDiscoverable('localhost', ['.'], NETWORKS), false);
  });

  it('accepts IPs in the profile networks only', () => {
    assert.equal(isDiscoverable('10.96.0.10', SUFFIXES, NETWORKS), true);
    assert.equal(isDiscoverable('fd00::1', SUFFIXES, NETWORKS), true);
    assert.equal(isDiscoverable('192.168.1.1', SUFFIXES, NETWORKS), false);
    assert.equal(isDiscoverable('::ffff:10.1.2.3', SUFFIXES, NETWORKS), true);
  });

  it('keys destinations as host:port without the trailing dot', () => {
    assert.equal(destinationKey({ host: 'web.default.svc.cluster.local.', port: 80 }), 'web.default.svc.cluster.local:80');
    assert.equal(destinationKey({ host: 'fd00::1', port: 80 }), '[fd00::1]:80');
  });
});

function setup(): {
  cache: DestinationCache;
  asked: string[];
  released: string[];
  retired: Endpoint[];
  advance: (ms: number) => void;
} {
  let t = 0;
  const asked: string[] = [];
  const released: string[] = [];
  const retired: Endpoint[] = [];
  const cache = new DestinationCache(
    { resolve: (a) => asked.push(a), release: (a) => released.push(a) },
    {
      suffixes: SUFFIXES,
      networks: NETWORKS,
      initialTimeoutMs: 60_000,
      idleTimeoutMs: 5_000,
      accrual: { maxFailures: 7, minMs: 1000, maxMs: 60_000, jitter: 0 },
      budgetShare: 0.5,
      now: () => t,
      retired: (endpoints) => retired.push(...endpoints),
    },
  );
  return { cache, asked, released, retired, advance: (ms) => (t += ms) };
}

const WEB = 'web.default.svc.cluster.local:80';
const two: DiscoveryState = {
  kind: 'resolved',
  endpoints: [
    { host: '10.0.0.1', port: 80, labels: {} },
    { host: '10.0.0.2', port: 80, labels: {} },
  ],
  profile: undefined,
};

describe('DestinationCache', () => {
  it('judges a host once and remembers it, in a bounded memory', () => {
    const { cache } = setup();
    assert.equal(cache.discoverable('web.default.svc.cluster.local'), true);
    assert.equal(cache.discoverable('example.com'), false);
    assert.equal(cache.discoverable('10.1.2.3'), isDiscoverable('10.1.2.3', SUFFIXES, NETWORKS));
    // Endless distinct hosts: the answers stay right while the memory is cleared when full.
    for (let i = 0; i < MAX_JUDGED_HOSTS * 3; i++) assert.equal(cache.discoverable(`h${i}.default.svc.cluster.local`), true);
    assert.equal(cache.discoverable('example.com'), false);
    assert.ok((cache as unknown as { judged: Map<string, boolean> }).judged.size <= MAX_JUDGED_HOSTS);
    cache.close();
  });

  it('asks once, holds requests until the answer, then answers synchronously', () => {
    const { cache, asked } = setup();
    const got: Array<Destination | undefined> = [];
    cache.lookup(WEB, (d) => got.push(d));
    cache.lookup(WEB, (d) => got.push(d));
    assert.deepEqual(asked, [WEB]);
    assert.equal(got.length, 0);
    cache.update(WEB, two);
    assert.equal(got.length, 2);
    assert.equal(got[0]?.endpoints.endpoints.length, 2);
    let sync: Destination | undefined;
    cache.lookup(WEB, (d) => (sync = d));
    assert.equal(sync, got[0]);
    cache.close();
  });

  it('hands requests to the fallback path for a destination the controller does not know', () => {
    const { cache } = setup();
    const got: Array<Destination | undefined> = [];
    cache.lookup(WEB, (d) => got.push(d));
    cache.update(WEB, { kind: 'fallback', reason: 'not_found' });
    cache.lookup(WEB, (d) => got.push(d));
    assert.deepEqual(got.slice(), [undefined, undefined]);
    // …and uses the controller's answer as soon as there is one.
    cache.update(WEB, two);
    cache.lookup(WEB, (d) => got.push(d));
    assert.equal(got[2]?.authority, WEB);
    cache.close();
  });

  it('releases a destination unused for the idle timeout, but never one in use, and retires its endpoints', () => {
    const { cache, released, retired, advance } = setup();
    let dest: Destination | undefined;
    cache.lookup(WEB, (d) => (dest = d));
    cache.update(WEB, two);
    assert.ok(dest !== undefined);
    dest.active = 1;
    advance(10_000);
    cache.sweep();
    assert.deepEqual(released, []);
    dest.active = 0;
    cache.sweep();
    assert.deepEqual(released, [WEB]);
    assert.equal(retired.length, 2);
    assert.equal(cache.size, 0);
    cache.close();
  });

  it('retires endpoints that leave, keeps the ones that stay, and gives the budget this worker’s share of the floor', () => {
    const { cache, retired } = setup();
    let dest: Destination | undefined;
    cache.lookup(WEB, (d) => (dest = d));
    cache.update(WEB, two);
    const kept = dest?.endpoints.endpoints[1];
    cache.update(WEB, { kind: 'resolved', endpoints: [{ host: '10.0.0.2', port: 80, labels: {} }], profile: undefined });
    assert.deepEqual(retired.map((e) => e.key), ['10.0.0.1:80']);
    assert.equal(dest?.endpoints.endpoints[0], kept);
    assert.equal(dest?.budget.config.minRetriesPerSecond, 5);
    cache.close();
  });
});
