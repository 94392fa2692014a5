// Several controller replicas (`sluice install --ha`): two real controller processes that name each
// other as peers. Proxies report to either one; `stat` on either answers for the whole mesh, with the
// same counts and the same percentiles, and nothing is counted twice.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { StatSummaryResponse } from '../../api/public-messages.ts';
import { startControllerProcess, type ControllerProcess } from '../../../test/support/controller-process.ts';
import { freePort } from '../../../test/support/net.ts';
import { sendReport, syntheticReport } from './testkit.ts';
import { Logger } from '../../log/logger.ts';
import { PeerForwarder } from './peers.ts';

const MESH = `namespaces:
  shop:
    pods:
      web-1: {ip: 10.0.0.1, owner: deployment/web, meshed: true}
      web-2: {ip: 10.0.0.2, owner: deployment/web, meshed: true}
`;

interface WebStats {
  success: number;
  failure: number;
  p50: number;
  p99: number;
}

async function webStats(controller: ControllerProcess): Promise<WebStats> {
  const response = await fetch(`http://${controller.publicApi}/api/v1/StatSummary`, {
    method: 'POST',
    body: JSON.stringify({ selector: { resource: { namespace: 'shop', type: 'deployment', name: 'web' } }, time_window: '10m' }),
    signal: AbortSignal.timeout(5_000),
  });
  const body = (await response.json()) as StatSummaryResponse;
  const stats = body.ok?.stat_tables?.[0]?.pod_group?.rows?.[0]?.stats;
  return { success: stats?.success_count ?? 0, failure: stats?.failure_count ?? 0, p50: stats?.latency_ms_p50 ?? 0, p99: stats?.latency_ms_p99 ?? 0 };
}

async function eventually<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('two controller replicas share telemetry', { timeout: 60_000 }, () => {
  let a: ControllerProcess;
  let b: ControllerProcess;

  before(async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sluice-peers-'));
    const mesh = path.join(dir, 'mesh.yaml');
    writeFileSync(mesh, MESH);
    const [portA, portB] = [await freePort(), await freePort()];
    const common = ['--discovery', 'file', '--discovery-file', mesh];
    [a, b] = await Promise.all([
      startControllerProcess([...common, '--proxy-api-addr', `127.0.0.1:${portA}`, '--peers', `127.0.0.1:${portB}`]),
      startControllerProcess([...common, '--proxy-api-addr', `127.0.0.1:${portB}`, '--peers', `127.0.0.1:${portA}`]),
    ]);
  });

  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
  });

  it('answers stat the same on both replicas, whichever replica each proxy reported to', async () => {
    // web-1's proxy is connected to replica a, web-2's to replica b; each sends two reports.
    for (const sequence of [1, 2]) {
      await sendReport(a.proxyApi, syntheticReport({ pod: 'web-1', workload: 'deployment/web', instance: 'proxy-web-1', sequence, requests: [{ ok: 40, failed: 10, latencyUs: 2_000 }] }));
      await sendReport(b.proxyApi, syntheticReport({ pod: 'web-2', workload: 'deployment/web', instance: 'proxy-web-2', sequence, requests: [{ ok: 50, latencyUs: 90_000 }] }));
    }
    const expected = (s: WebStats): boolean => s.success === 180 && s.failure === 20;
    const onA = await eventually('replica a to see both proxies', () => webStats(a), expected);
    const onB = await eventually('replica b to see both proxies', () => webStats(b), expected);
    assert.deepEqual(onA, onB);
    // Both proxies' latencies are in each replica's percentiles: half the requests at 2 ms, half at 90 ms.
    assert.ok(onA.p50 <= 3 && onA.p99 >= 89, JSON.stringify(onA));
  });

  it('applies a report that a proxy re-sends to the other replica only once', async () => {
    // The answer to sequence 3 was lost; the proxy reconnects (to b this time) and sends it again.
    const again = syntheticReport({ pod: 'web-1', workload: 'deployment/web', instance: 'proxy-web-1', sequence: 3, requests: [{ ok: 5 }] });
    await sendReport(a.proxyApi, again);
    await eventually('replica b to get the forwarded report', () => webStats(b), (s) => s.success === 185);
    await sendReport(b.proxyApi, again);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal((await webStats(a)).success, 185);
    assert.equal((await webStats(b)).success, 185);
  });
});

describe('PeerForwarder', () => {
  const log = new Logger('error', 'plain', 'test');

  it('finds peers through DNS, leaving out its own address, and follows the answer as it changes', async () => {
    let answer = ['10.1.0.1', '10.1.0.2', '10.1.0.3'];
    const forwarder = new PeerForwarder({
      source: { kind: 'dns', host: 'sluice-controller-peers.sluice.svc.cluster.local', port: 8086 },
      podIp: '10.1.0.2',
      ownPort: 8086,
      self: 'sluice-controller-b',
      log,
      resolve: async () => answer,
    });
    try {
      await eventually('the first resolution', async () => forwarder.addresses, (a) => a.length > 0, 2_000);
      assert.deepEqual(forwarder.addresses, ['10.1.0.1:8086', '10.1.0.3:8086']);
      answer = ['10.1.0.2', '10.1.0.4'];
      await (forwarder as unknown as { refresh(h: string, p: number): Promise<void> }).refresh('x', 8086);
      assert.deepEqual(forwarder.addresses, ['10.1.0.4:8086']);
    } finally {
      forwarder.close();
    }
  });

  it('leaves itself out of a fixed list, but not another replica on the same address', () => {
    const forwarder = new PeerForwarder({
      source: { kind: 'static', addrs: [{ host: '127.0.0.1', port: 8086 }, { host: '127.0.0.1', port: 9086 }, { host: '10.1.0.9', port: 8086 }] },
      podIp: '127.0.0.1',
      ownPort: 8086,
      self: 'a',
      log,
    });
    try {
      assert.deepEqual(forwarder.addresses, ['10.1.0.9:8086', '127.0.0.1:9086']);
    } finally {
      forwarder.close();
    }
  });

  it('keeps running when a peer is unreachable, counting what it could not deliver', async () => {
    const port = await freePort(); // nothing listens there
    const forwarder = new PeerForwarder({ source: { kind: 'static', addrs: [{ host: '127.0.0.1', port }] }, podIp: undefined, ownPort: 8086, self: 'a', log });
    try {
      forwarder.forward(syntheticReport({ pod: 'web-1', requests: [{ ok: 1 }] }));
      await eventually('the failure to be counted', async () => forwarder.counters.failed, (n) => n === 1, 8_000);
      assert.equal(forwarder.counters.forwarded, 0);
    } finally {
      forwarder.close();
    }
  });
});
