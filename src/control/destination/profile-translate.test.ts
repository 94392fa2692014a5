import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { ProfileSpec } from '../discovery/types.ts';
import {
  DEFAULT_RETRY_BUDGET,
  defaultProfile,
  nsToDuration,
  parseGoDuration,
  quantityToMilli,
  toRequestMatch,
  toResponseMatch,
  translateProfile,
  withPort,
} from './profile-translate.ts';

const FQN = 'web.emojivoto.svc.cluster.local';
const opts = { fullyQualifiedName: FQN, port: 80 };

describe('parseGoDuration', () => {
  test('Go forms', () => {
    assert.equal(parseGoDuration('300ms'), 300e6);
    assert.equal(parseGoDuration('10s'), 10e9);
    assert.equal(parseGoDuration('1.5s'), 1.5e9);
    assert.equal(parseGoDuration('1m30s'), 90e9);
    assert.equal(parseGoDuration('2h'), 7200e9);
    assert.equal(parseGoDuration('100us'), 100e3);
    assert.equal(parseGoDuration('100µs'), 100e3);
    assert.equal(parseGoDuration('7ns'), 7);
    assert.equal(parseGoDuration('0'), 0);
    assert.equal(parseGoDuration('-1s'), -1e9);
    assert.equal(parseGoDuration('.5s'), 0.5e9);
  });
  test('rejects what Go rejects', () => {
    for (const bad of ['', '10', 's', '1d', '10 s', '1.2.3s', 'ms', '-']) assert.throws(() => parseGoDuration(bad), bad);
  });
  test('Duration messages', () => {
    assert.deepEqual(nsToDuration(1.5e9), { seconds: 1, nanos: 500_000_000 });
    assert.deepEqual(nsToDuration(300e6), { seconds: 0, nanos: 300_000_000 });
  });
  test('sums of parts (fast-check)', () => {
    fc.assert(
      fc.property(fc.nat(99), fc.nat(59), fc.nat(999), (m, s, ms) => {
        assert.equal(parseGoDuration(`${m}m${s}s${ms}ms`), ((m * 60 + s) * 1000 + ms) * 1e6);
      }),
    );
  });
});

describe('quantityToMilli (dst override weights, Linkerd: weight.MilliValue())', () => {
  test('milli units, plain numbers, decimals, suffixes', () => {
    assert.equal(quantityToMilli('500m'), 500);
    assert.equal(quantityToMilli('1'), 1000);
    assert.equal(quantityToMilli(1), 1000);
    assert.equal(quantityToMilli(0.5), 500);
    assert.equal(quantityToMilli('0.1'), 100);
    assert.equal(quantityToMilli('100'), 100_000);
    assert.equal(quantityToMilli('1k'), 1_000_000);
    assert.equal(quantityToMilli('1Ki'), 1_024_000);
    assert.equal(quantityToMilli('1e2'), 100_000);
    assert.equal(quantityToMilli('0'), 0);
    // Rounded up like MilliValue.
    assert.equal(quantityToMilli('1u'), 1);
  });
  test('rejects junk, negatives and overflow', () => {
    for (const bad of ['', 'x', '1q', '-1', '5G', Number.NaN]) assert.throws(() => quantityToMilli(bad), String(bad));
  });
});

describe('conditions', () => {
  test('one field → that match; several → all; methods registered or not', () => {
    assert.deepEqual(toRequestMatch({ method: 'get' }), { method: { registered: 'GET' } });
    assert.deepEqual(toRequestMatch({ method: 'PURGE' }), { method: { unregistered: 'PURGE' } });
    assert.deepEqual(toRequestMatch({ method: 'POST', pathRegex: '/a' }), {
      all: { matches: [{ method: { registered: 'POST' } }, { path: { regex: '/a' } }] },
    });
    assert.deepEqual(toRequestMatch({ not: { any: [{ pathRegex: '/x' }, { pathRegex: '/y' }] } }), {
      not: { any: { matches: [{ path: { regex: '/x' } }, { path: { regex: '/y' } }] } },
    });
    assert.throws(() => toRequestMatch({}), /at least one/);
  });
  test('status ranges; open ends default to 100 and 599', () => {
    assert.deepEqual(toResponseMatch({ status: { min: 500, max: 599 } }), { status: { min: 500, max: 599 } });
    assert.deepEqual(toResponseMatch({ status: { min: 500 } }), { status: { min: 500, max: 599 } });
    assert.deepEqual(toResponseMatch({ not: { status: { max: 399 } } }), { not: { status: { min: 100, max: 399 } } });
    assert.throws(() => toResponseMatch({ status: { min: 600 } }));
    assert.throws(() => toResponseMatch({ status: { min: 500, max: 400 } }));
  });
});

describe('translateProfile', () => {
  test('no profile: default profile with the default retry budget', () => {
    const { profile, warnings } = translateProfile(undefined, opts);
    assert.deepEqual(profile, defaultProfile(opts));
    assert.deepEqual(profile.retry_budget, { retry_ratio: 0.2, min_retries_per_second: 10, ttl: { seconds: 10, nanos: 0 } });
    assert.equal(profile.fully_qualified_name, FQN);
    assert.deepEqual(warnings, []);
  });

  test('a full profile', () => {
    const spec: ProfileSpec = {
      routes: [
        { name: 'GET /books', condition: { method: 'GET', pathRegex: '/books' }, isRetryable: true, timeout: '300ms' },
        {
          name: 'POST /books',
          condition: { method: 'POST' },
          responseClasses: [{ condition: { status: { min: 500, max: 599 } }, isFailure: true }],
        },
      ],
      retryBudget: { retryRatio: 0.3, minRetriesPerSecond: 5, ttl: '20s' },
      dstOverrides: [
        { authority: 'web.emojivoto.svc.cluster.local', weight: '900m' },
        { authority: 'web-canary.emojivoto.svc.cluster.local:8080', weight: 0.1 },
      ],
      opaquePorts: [80, 3306],
    };
    const { profile, warnings } = translateProfile(spec, opts);
    assert.deepEqual(warnings, []);
    assert.deepEqual(profile, {
      fully_qualified_name: FQN,
      opaque_protocol: true,
      routes: [
        {
          condition: { all: { matches: [{ method: { registered: 'GET' } }, { path: { regex: '/books' } }] } },
          response_classes: [],
          metrics_labels: { route: 'GET /books' },
          is_retryable: true,
          timeout: { seconds: 0, nanos: 300_000_000 },
        },
        {
          condition: { method: { registered: 'POST' } },
          response_classes: [{ condition: { status: { min: 500, max: 599 } }, is_failure: true }],
          metrics_labels: { route: 'POST /books' },
          is_retryable: false,
          timeout: { seconds: 10, nanos: 0 },
        },
      ],
      retry_budget: { retry_ratio: 0.3, min_retries_per_second: 5, ttl: { seconds: 20, nanos: 0 } },
      dst_overrides: [
        { authority: 'web.emojivoto.svc.cluster.local:80', weight: 900 },
        { authority: 'web-canary.emojivoto.svc.cluster.local:8080', weight: 100 },
      ],
    });
  });

  test('bad parts are dropped with warnings; the rest is served', () => {
    const spec = {
      routes: [
        { name: 'ok', condition: { pathRegex: '/' } },
        { name: 'bad-timeout', condition: { pathRegex: '/' }, timeout: 'soon' },
        { name: 'no-condition', condition: {} },
      ],
      retryBudget: { retryRatio: -1, minRetriesPerSecond: 1, ttl: '1s' },
      dstOverrides: [{ authority: 'x', weight: 'lots' }],
    } as unknown as ProfileSpec;
    const { profile, warnings } = translateProfile(spec, opts);
    assert.equal(profile.routes.length, 1);
    assert.deepEqual(profile.retry_budget, DEFAULT_RETRY_BUDGET);
    assert.deepEqual(profile.dst_overrides, []);
    assert.equal(warnings.length, 4);
  });

  test('opaque_protocol only for the requested port', () => {
    assert.equal(translateProfile({ opaquePorts: [3306] }, opts).profile.opaque_protocol, false);
    assert.equal(translateProfile({ opaquePorts: [3306] }, { ...opts, port: 3306 }).profile.opaque_protocol, true);
  });
});

test('withPort', () => {
  assert.equal(withPort('a.b', 80), 'a.b:80');
  assert.equal(withPort('a.b:81', 80), 'a.b:81');
  assert.equal(withPort('fd00::1', 80), '[fd00::1]:80');
  assert.equal(withPort('[fd00::1]:81', 80), '[fd00::1]:81');
});
