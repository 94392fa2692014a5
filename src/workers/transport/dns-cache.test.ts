// The DNS cache's promised lifetimes (docs/proxy.md: answers cached for 5 s, failures for 1 s), with a
// lookup and a clock the test controls, so the boundaries are exact and nothing waits on real time.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DnsCache, type Lookup } from './dns-cache.ts';

/** A resolver that answers from `answers` (a missing name fails) and records every lookup it was asked. */
function fakeResolver(answers: Map<string, string>): { lookup: Lookup; asked: string[]; pending: Array<() => void>; deferred: boolean } {
  const state = {
    asked: [] as string[],
    pending: [] as Array<() => void>,
    deferred: false,
    lookup: ((host, callback) => {
      state.asked.push(host);
      const answer = (): void => {
        const address = answers.get(host);
        callback(address === undefined ? new Error(`ENOTFOUND ${host}`) : null, address);
      };
      if (state.deferred) state.pending.push(answer);
      else answer();
    }) as Lookup,
  };
  return state;
}

function resolveNow(cache: DnsCache, host: string): string | undefined {
  let result: string | undefined | 'not called' = 'not called';
  cache.resolve(host, (address) => (result = address));
  assert.notEqual(result, 'not called', 'answered synchronously');
  return result as string | undefined;
}

describe('DnsCache', () => {
  it('reuses an answer for exactly 5 s, then asks the resolver again', () => {
    let now = 1_000_000;
    const answers = new Map([['web.example', '10.0.0.1']]);
    const resolver = fakeResolver(answers);
    const cache = new DnsCache(resolver.lookup, () => now);
    assert.equal(resolveNow(cache, 'web.example'), '10.0.0.1');
    answers.set('web.example', '10.0.0.2');
    now += 5_000; // the last millisecond of the lifetime
    assert.equal(cache.cached('web.example'), '10.0.0.1');
    assert.equal(resolveNow(cache, 'web.example'), '10.0.0.1');
    assert.deepEqual(resolver.asked, ['web.example']);
    now += 1; // expired: the change becomes visible
    assert.equal(cache.cached('web.example'), undefined);
    assert.equal(resolveNow(cache, 'web.example'), '10.0.0.2');
    assert.deepEqual(resolver.asked, ['web.example', 'web.example']);
  });

  it('remembers a failure for exactly 1 s, so a bad name costs one lookup per second, not one per request', () => {
    let now = 5_000_000;
    const answers = new Map<string, string>();
    const resolver = fakeResolver(answers);
    const cache = new DnsCache(resolver.lookup, () => now);
    assert.equal(resolveNow(cache, 'missing.example'), undefined);
    assert.equal(cache.cached('missing.example'), null, 'a known failure, not "unknown"');
    answers.set('missing.example', '10.0.0.9');
    now += 1_000;
    for (let i = 0; i < 10; i++) assert.equal(resolveNow(cache, 'missing.example'), undefined);
    assert.deepEqual(resolver.asked, ['missing.example']);
    now += 1;
    assert.equal(resolveNow(cache, 'missing.example'), '10.0.0.9', 'the name resolves once the failure expired');
    assert.equal(resolver.asked.length, 2);
  });

  it('shares one lookup among concurrent callers and answers them all', () => {
    const resolver = fakeResolver(new Map([['api.example', '10.0.0.3']]));
    resolver.deferred = true;
    const cache = new DnsCache(resolver.lookup, () => 0);
    const results: Array<string | undefined> = [];
    for (let i = 0; i < 5; i++) cache.resolve('api.example', (address) => results.push(address));
    assert.deepEqual(resolver.asked, ['api.example']);
    assert.deepEqual(results, []);
    for (const answer of resolver.pending.splice(0)) answer();
    assert.deepEqual(results, Array(5).fill('10.0.0.3'));
  });

  it('never looks up an IP address', () => {
    const resolver = fakeResolver(new Map());
    const cache = new DnsCache(resolver.lookup, () => 0);
    assert.equal(resolveNow(cache, '192.0.2.7'), '192.0.2.7');
    assert.equal(resolveNow(cache, '2001:db8::1'), '2001:db8::1');
    assert.deepEqual(resolver.asked, []);
  });

  it('keeps at most 4096 names: the next one clears the cache rather than growing it', () => {
    const answers = new Map<string, string>();
    for (let i = 0; i <= 4096; i++) answers.set(`n${i}.example`, `10.1.${i >> 8}.${i & 255}`);
    const resolver = fakeResolver(answers);
    const cache = new DnsCache(resolver.lookup, () => 0);
    for (let i = 0; i < 4096; i++) resolveNow(cache, `n${i}.example`);
    assert.equal(cache.cached('n0.example'), '10.1.0.0');
    resolveNow(cache, 'n4096.example');
    assert.equal(cache.cached('n0.example'), undefined, 'older names were dropped');
    assert.equal(cache.cached('n4096.example'), '10.1.16.0');
  });
});
