// ServiceProfile spec validation (pure).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { profileName, toProfileSpec } from './profiles.ts';

test('profile names are the Service FQDN', () => {
  assert.equal(profileName({ namespace: 'shop', service: 'web' }, 'cluster.local'), 'web.shop.svc.cluster.local');
  assert.equal(profileName({ namespace: 'shop', service: 'web' }, 'example.org'), 'web.shop.svc.example.org');
});

test('a well-formed spec comes through unchanged', () => {
  const spec = {
    routes: [
      {
        name: 'GET /books/{id}',
        condition: { method: 'GET', pathRegex: '/books/\\d+', not: { any: [{ method: 'POST' }] } },
        responseClasses: [{ condition: { status: { min: 500, max: 599 } }, isFailure: true }, { condition: { all: [{ status: { min: 404 } }] } }],
        isRetryable: true,
        timeout: '300ms',
      },
    ],
    retryBudget: { retryRatio: 0.2, minRetriesPerSecond: 10, ttl: '10s' },
    dstOverrides: [{ authority: 'web-v2.shop.svc.cluster.local:80', weight: '500m' }, { authority: 'web.shop.svc.cluster.local:80', weight: 500 }],
    opaquePorts: [3306],
  };
  const problems: string[] = [];
  assert.deepEqual(toProfileSpec({ spec }, problems), spec);
  assert.deepEqual(problems, []);
  assert.deepEqual(toProfileSpec({ spec: {} }), {});
  assert.deepEqual(toProfileSpec({}), {});
});

test('malformed parts are dropped and reported, the rest kept', () => {
  const problems: string[] = [];
  const spec = toProfileSpec(
    {
      spec: {
        routes: [
          { name: 'ok', condition: { method: 'GET' } },
          { name: 'no condition' },
          { name: 'bad regex', condition: { pathRegex: '(' } },
          { name: 'bad class', condition: { method: 'GET' }, responseClasses: [{ condition: { status: { min: 'x' } } }] },
          { name: 'bad timeout', condition: { method: 'GET' }, timeout: 5 },
        ],
        retryBudget: { retryRatio: '0.2' },
        dstOverrides: [{ authority: 'a:80', weight: 1 }, { weight: 1 }],
        opaquePorts: [25, 0, 'x', 70000],
      },
    },
    problems,
  );
  assert.deepEqual(spec, { routes: [{ name: 'ok', condition: { method: 'GET' } }], dstOverrides: [{ authority: 'a:80', weight: 1 }], opaquePorts: [25] });
  assert.equal(problems.length, 9);
});
