import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { shebangNodeOptions, sluiceEnv } from './sluice-proc.ts';

const ports = { outbound: 4140, inbound: 4143, admin: 4191, tap: 4190 };

test('forward-address targets: both forward addresses, no controller', () => {
  const env = sluiceEnv(ports, { workers: 1, outboundForward: 9000, inboundForward: 9001 });
  assert.equal(env['SLUICE_PROXY_OUTBOUND_LISTEN_ADDR'], '127.0.0.1:4140');
  assert.equal(env['SLUICE_PROXY_TAP_LISTEN_ADDR'], '127.0.0.1:4190');
  assert.equal(env['SLUICE_PROXY_OUTBOUND_FORWARD_ADDR'], '127.0.0.1:9000');
  assert.equal(env['SLUICE_PROXY_INBOUND_FORWARD_ADDR'], '127.0.0.1:9001');
  assert.equal(env['SLUICE_PROXY_WORKERS'], '1');
  assert.equal(env['SLUICE_PROXY_DESTINATION_SVC_ADDR'], undefined);
});

test('mesh proxy A: the controller and a pod context, and no outbound forward address to fall back on', () => {
  const saved = process.env['SLUICE_PROXY_OUTBOUND_FORWARD_ADDR'];
  process.env['SLUICE_PROXY_OUTBOUND_FORWARD_ADDR'] = '127.0.0.1:1';
  try {
    const env = sluiceEnv(ports, { workers: 1, destination: '127.0.0.1:8086' });
    assert.equal(env['SLUICE_PROXY_DESTINATION_SVC_ADDR'], '127.0.0.1:8086');
    assert.deepEqual(JSON.parse(env['SLUICE_PROXY_DESTINATION_CONTEXT'] ?? ''), { ns: 'perf', nodeName: 'perf-node', pod: 'perf-client' });
    // Not even one inherited from our own environment: a request the controller did not resolve must fail.
    assert.equal(env['SLUICE_PROXY_OUTBOUND_FORWARD_ADDR'], undefined);
    assert.equal(env['SLUICE_PROXY_INBOUND_FORWARD_ADDR'], undefined);
  } finally {
    if (saved === undefined) delete process.env['SLUICE_PROXY_OUTBOUND_FORWARD_ADDR'];
    else process.env['SLUICE_PROXY_OUTBOUND_FORWARD_ADDR'] = saved;
  }
});

test('the benchmark starts the proxy with the Node options of its shebang, as the image runs it', () => {
  const bin = fileURLToPath(new URL('../../bin/sluice-proxy.js', import.meta.url));
  assert.ok(shebangNodeOptions(bin).some((o) => o.startsWith('--max-semi-space-size=')));
  const dir = mkdtempSync(join(tmpdir(), 'shebang-'));
  writeFileSync(join(dir, 'a.js'), '#!/usr/bin/env -S node --a=1 --b\nconsole.log(1)\n');
  writeFileSync(join(dir, 'b.js'), '#!/usr/bin/env node\n');
  writeFileSync(join(dir, 'c.js'), 'console.log(1)\n');
  assert.deepEqual(shebangNodeOptions(join(dir, 'a.js')), ['--a=1', '--b']);
  assert.deepEqual(shebangNodeOptions(join(dir, 'b.js')), []);
  assert.deepEqual(shebangNodeOptions(join(dir, 'c.js')), []);
});

test('identity: given, the proxy gets exactly those variables; not given, none inherited from our environment', () => {
  const saved = process.env['SLUICE_PROXY_IDENTITY_LOCAL_NAME'];
  process.env['SLUICE_PROXY_IDENTITY_LOCAL_NAME'] = 'stray.default.serviceaccount.identity.sluice.cluster.local';
  try {
    assert.equal(sluiceEnv(ports, { workers: 1 })['SLUICE_PROXY_IDENTITY_LOCAL_NAME'], undefined);
    const identity = { SLUICE_PROXY_IDENTITY_LOCAL_NAME: 'backend.perf.serviceaccount.identity.sluice.cluster.local', SLUICE_PROXY_IDENTITY_SVC_ADDR: '127.0.0.1:1' };
    const env = sluiceEnv(ports, { workers: 1, identity });
    assert.equal(env['SLUICE_PROXY_IDENTITY_LOCAL_NAME'], identity.SLUICE_PROXY_IDENTITY_LOCAL_NAME);
    assert.equal(env['SLUICE_PROXY_IDENTITY_SVC_ADDR'], '127.0.0.1:1');
  } finally {
    if (saved === undefined) delete process.env['SLUICE_PROXY_IDENTITY_LOCAL_NAME'];
    else process.env['SLUICE_PROXY_IDENTITY_LOCAL_NAME'] = saved;
  }
});
