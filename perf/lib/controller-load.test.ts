import { test } from 'node:test';
import assert from 'node:assert/strict';
import { benchReport, benchRequestScopes, discoveryYaml, readyProxyApi, spread } from './controller-load.ts';

test('discovery YAML lists one plain endpoint per line with distinct ports', () => {
  const y = discoveryYaml(3);
  assert.match(y, /^namespaces:\n {2}bench:\n/);
  assert.deepEqual([...y.matchAll(/- (10\.42\.0\.\d+):(\d+)/g)].map((m) => m[2]), ['9001', '9002', '9003']);
});

test('proxy-api address from the controller ready line (plain and quoted)', () => {
  const line = '2026-01-01T00:00:00.000Z INFO controller: controller ready proxy-api=127.0.0.1:40123 public-api=127.0.0.1:40124 discovery=file';
  assert.equal(readyProxyApi(`noise\n${line}\n`), '127.0.0.1:40123');
  assert.equal(readyProxyApi('controller ready proxy-api="[::1]:5"'), '[::1]:5');
  assert.equal(readyProxyApi('starting'), null);
});

test('nearest-rank percentiles', () => {
  const s = spread(Array.from({ length: 1000 }, (_, i) => 1000 - i));
  assert.deepEqual(s, { count: 1000, p50: 500, p99: 990, max: 1000 });
  assert.deepEqual(spread([]), { count: 0, p50: 0, p99: 0, max: 0 });
});

test('bench reports: 20 request scopes × 3 response scopes with an HDR histogram', () => {
  const scopes = benchRequestScopes();
  const r = benchReport(scopes, 3, 7);
  assert.equal(r.requests?.length, 20);
  for (const s of r.requests ?? []) {
    assert.equal(s.responses?.length, 3);
    for (const resp of s.responses ?? []) assert.ok((resp.latency_hdr?.length ?? 0) > 10);
  }
  assert.equal(r.instance_id, 'bench-3');
  assert.equal(r.sequence, 7);
});
