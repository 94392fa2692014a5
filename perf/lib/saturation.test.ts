import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAutocannon, parseH2load } from './saturation.ts';

test('autocannon JSON: 2xx are the successes, errors summed', () => {
  const c = parseAutocannon(JSON.stringify({ duration: 4.02, '2xx': 40000, non2xx: 3, errors: 1, timeouts: 2, mismatches: 0, requests: { total: 40003 } }));
  assert.deepEqual(c, { tool: 'autocannon', requests: 40000, errors: 6, seconds: 4.02 });
});

test('h2load text summary', () => {
  const text = [
    'finished in 3.00s, 6368.00 req/s, 726.75KB/s',
    'requests: 19104 total, 19168 started, 19104 done, 19100 succeeded, 4 failed, 0 errored, 0 timeout',
    'status codes: 19100 2xx, 0 3xx, 0 4xx, 4 5xx',
  ].join('\n');
  assert.deepEqual(parseH2load(text), { tool: 'h2load', requests: 19100, errors: 4, seconds: 3 });
  assert.equal(parseH2load(text.replace('3.00s', '500.00ms')).seconds, 0.5);
  assert.throws(() => parseH2load('connect refused'), /cannot read h2load/);
});
