// Fault matrix, controller row: the real controller (file discovery) goes down under load and comes back.
// While it is down the proxy keeps routing to the last endpoints it was told (nothing lost); the
// endpoints change while it is down; once it is back on the same address, the proxy's streams reconnect
// and traffic moves to the new endpoints, still with nothing lost.
import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { eventually } from '../support/backends.ts';
import { startControllerProcess, type ControllerProcess } from '../support/controller-process.ts';
import { restartablePort } from '../support/net.ts';
import { startProxy } from '../support/proxy.ts';
import { startBackend, type Backend } from './backend.ts';
import { lost, measuredLoad, underLoad } from './cell.ts';
import { Results, type Row, type Running } from './matrix.ts';

const results = new Results('controller');
const ROW: Row = 'controller down, then back';
const SERVICE = 'web.default.svc.cluster.local';

describe(ROW, () => {
  let dir: string;
  let a: Backend;
  let b: Backend;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-faults-'));
    [a, b] = await Promise.all([startBackend(), startBackend()]);
  });
  after(async () => {
    await Promise.all([a.close(), b.close()]);
    rmSync(dir, { recursive: true, force: true });
  });

  /** The discovery file with `web` served by `backend` (written by rename, as editors and ConfigMaps do). */
  function writeMesh(file: string, backend: Backend): void {
    const text = `namespaces:\n  default:\n    services:\n      web:\n        ports: [80]\n        endpoints:\n          - 127.0.0.1:${backend.port}\n`;
    writeFileSync(`${file}.tmp`, text);
    renameSync(`${file}.tmp`, file);
  }

  for (const protocol of ['http1', 'h2c', 'grpc'] as const) {
    it(`${protocol}: the last endpoints are kept while it is down; the change made meanwhile applies once it is back`, async (t) => {
      const file = join(dir, `mesh-${protocol}.yaml`);
      writeMesh(file, a);
      // Restarted on this port while the proxy keeps reconnecting to it: outside the ephemeral range.
      const apiPort = await restartablePort();
      const args = ['--discovery', 'file', '--discovery-file', file, '--proxy-api-addr', `127.0.0.1:${apiPort}`];
      let controller: ControllerProcess = await startControllerProcess(args);
      t.after(() => controller.stop());
      const proxy = await startProxy({ SLUICE_PROXY_DESTINATION_SVC_ADDR: `127.0.0.1:${apiPort}` });
      t.after(() => proxy.stop('SIGKILL'));
      const running: Running = { topology: '1 worker', port: proxy.outbound.port, authority: `${SERVICE}:80`, proxies: [proxy], entry: proxy, stop: async () => {} };

      const marks: Record<string, number> = {};
      const { load } = await underLoad(
        running,
        protocol,
        `ctl-${protocol}`,
        async () => {
          await eventually(() => a.received.size > 0, 15_000, 'traffic to reach the first endpoint');
          controller.child.kill('SIGKILL');
          await new Promise((resolve) => controller.child.once('exit', resolve));
          marks['aAtKill'] = a.received.size;
          writeMesh(file, b);
          // Down: requests keep going to the last endpoint the proxy was told about.
          await eventually(() => a.received.size >= marks['aAtKill']! + 50, 20_000, 'traffic to go on while the controller is down');
          marks['aWhileDown'] = a.received.size - marks['aAtKill']!;
          controller = await startControllerProcess(args);
          // Back: the reopened streams carry the new endpoints; traffic moves to them.
          await eventually(() => b.received.size >= 50, 30_000, 'traffic to move to the new endpoint');
          marks['aAfter'] = a.received.size;
          return {};
        },
        9_000,
      );
      const movedCompletely = a.received.size - (marks['aAfter'] ?? 0) <= 5; // at most what was in flight when it moved
      const failures = lost(load);
      const pass = failures.length === 0 && (marks['aWhileDown'] ?? 0) >= 50 && b.received.size >= 50 && movedCompletely;
      results.record({
        row: ROW,
        column: protocol,
        topology: '1 worker',
        expected: 'load: 0 lost; while down, requests go on to the last endpoint (≥ 50 seen there); the endpoint changed meanwhile gets the traffic once the controller is back, and the old one no more',
        measured: { ...measuredLoad(load), toOldWhileDown: marks['aWhileDown'], toNewAfterBack: b.received.size, toOldAfterMove: a.received.size - (marks['aAfter'] ?? 0) },
        pass,
      });
      assert.deepEqual(failures.slice(0, 5), [], `${failures.length} lost`);
      assert.ok(movedCompletely, `the old endpoint still got ${a.received.size - (marks['aAfter'] ?? 0)} requests after the move`);
      a.received.clear();
      b.received.clear();
    });
  }

  it('TCP: does not apply here', () => {
    results.notApplicable(
      ROW,
      'tcp',
      "TCP is balanced by its original destination's cluster IP, which needs iptables redirection and network namespaces (test/e2e covers TCP through the mesh); the proxy's handling of the controller is the same code for every protocol",
    );
  });
});
