// The proxy's telemetry reporter end to end over Telemetry.ReportStream: the reporter, its streaming
// sender and the proxy's own gRPC client against the controller's real Telemetry component (in this
// process, with its store), through a TCP relay the test can make lose answers and cut. Every interval
// goes on one stream; a report whose answer was lost with its connection is sent again on a new stream
// and counted once; a controller from before ReportStream gets the same reports as Report calls.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { loadProto, lookup } from '../api/proto.ts';
import type { TelemetryConfig } from '../config/proxy-config.ts';
import { telemetryComponent } from '../control/telemetry/component.ts';
import { PeerIdentities } from '../control/telemetry/peer-identities.ts';
import { ReportDecodeCaches } from '../control/telemetry/report-decode.ts';
import { reportHandler } from '../control/telemetry/report-service.ts';
import { TelemetryStore } from '../control/telemetry/store.ts';
import { Logger } from '../log/logger.ts';
import { ProxyMetrics } from '../telemetry/proxy-metrics.ts';
import { TelemetryCollector } from '../telemetry/report-delta.ts';
import { podsOnlyDiscovery, startController, type RunningController } from '../../test/support/controller.ts';
import { GrpcChannel } from './grpc/channel.ts';
import { TelemetryReporter } from './telemetry-reporter.ts';
import { StreamingReportSender } from './telemetry-stream-sender.ts';

/** A 1 s interval: the reporter then waits 1 s for an answer (its send timeout). */
const CONFIG: TelemetryConfig = {
  svcAddr: { host: '127.0.0.1', port: 8086 },
  reportIntervalMs: 1000,
  podName: 'web-1',
  podNamespace: 'shop',
  workload: 'deployment/web',
  localIdentity: '',
};

/** A TCP relay to the controller: `blackhole` lets requests through and drops every answer; `cut` closes every connection. */
class Relay {
  mode: 'pass' | 'blackhole' = 'pass';
  readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();

  constructor(targetPort: number) {
    this.server = net.createServer((client) => {
      const upstream = net.connect({ host: '127.0.0.1', port: targetPort });
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('error', () => {});
        socket.on('close', () => {
          this.sockets.delete(socket);
          client.destroy();
          upstream.destroy();
        });
      }
      client.on('data', (bytes) => upstream.write(bytes));
      upstream.on('data', (bytes) => {
        if (this.mode === 'pass') client.write(bytes);
      });
    });
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return (this.server.address() as net.AddressInfo).port;
  }

  cut(): void {
    for (const socket of this.sockets) socket.destroy();
  }

  close(): void {
    this.cut();
    this.server.close();
  }
}

function proxy(port: number, store: () => { success: number; failure: number }) {
  const metrics = new ProxyMetrics();
  const collector = new TelemetryCollector(metrics.registry);
  const channel = new GrpcChannel({ authority: `127.0.0.1:${port}`, connect: () => net.connect({ host: '127.0.0.1', port }) });
  const logs: string[] = [];
  const sender = new StreamingReportSender(channel, new Logger('info', 'plain', 'proxy', (line) => logs.push(line)), () => channel.close());
  const reporter = new TelemetryReporter({ config: CONFIG, log: new Logger('error', 'plain', 'proxy', () => {}), collect: async () => [collector.collect()], sender });
  const serve = (ok: number, failed: number): void => {
    const stats = metrics.http('inbound', 'web:80', { host: '10.1.0.5', port: 8080 });
    for (let i = 0; i < ok + failed; i++) {
      stats.request();
      stats.response(i < ok ? 200 : 500, -1, 2);
    }
  };
  return { sender, reporter, serve, logs, totals: store };
}

function totalsOf(store: TelemetryStore): () => { success: number; failure: number } {
  return () => {
    const group = store.query(3_600_000, (key) => (key.direction === 'inbound' && key.scope === 'svc' ? 'web' : undefined)).groups.get('web');
    return { success: group?.success ?? 0, failure: group?.failure ?? 0 };
  };
}

describe('telemetry reporter over ReportStream, against the controller', { timeout: 30_000 }, () => {
  let controller: RunningController;
  let relay: Relay;
  let relayPort: number;

  before(async () => {
    controller = await startController(podsOnlyDiscovery(() => []), [telemetryComponent]);
    relay = new Relay(Number(controller.proxyApi.split(':')[1]));
    relayPort = await relay.listen();
  });

  after(async () => {
    relay.close();
    await controller.close();
  });

  it('sends every interval on one stream, and the controller counts each report once', async () => {
    const { sender, reporter, serve, totals } = proxy(relayPort, totalsOf(controller.store));
    const reportsBefore = controller.store.counters.reports;
    serve(3, 1);
    await reporter.tick();
    serve(2, 0);
    await reporter.tick();
    await reporter.tick();
    assert.deepEqual(totals(), { success: 5, failure: 1 });
    assert.equal(controller.store.counters.reports - reportsBefore, 6); // 3 intervals × 2 directions
    assert.deepEqual([reporter.stats.sent, reporter.stats.failed, sender.streamsOpened, sender.mode], [3, 0, 1, 'stream']);
    const open = controller.metrics().find((f) => f.name === 'sluice_controller_telemetry_streams')?.series[0]?.[1];
    assert.equal(open, 1);
    await reporter.stop(2000);
  });

  it('sends a report whose answer was lost again, on a new stream, and the controller counts it once', async () => {
    const local = await startController(podsOnlyDiscovery(() => []), [telemetryComponent]);
    const lossy = new Relay(Number(local.proxyApi.split(':')[1]));
    try {
      const { sender, reporter, serve, totals } = proxy(await lossy.listen(), totalsOf(local.store));
      serve(7, 0);
      lossy.mode = 'blackhole';
      await reporter.tick(); // reaches the controller; its answer does not come back
      assert.equal(reporter.stats.failed, 1);
      assert.deepEqual(totals(), { success: 7, failure: 0 });
      lossy.cut();
      lossy.mode = 'pass';
      serve(2, 0);
      // The same report again first (a new connection, a new stream), then the new counts. (A tick that
      // starts before the client has seen the connection go fails as well, and the next one retries.)
      for (let tick = 0; tick < 3 && reporter.stats.sent < 2; tick++) await reporter.tick();
      assert.equal(reporter.stats.sent, 2, `failed ${reporter.stats.failed}`); // the retry, then the new counts
      assert.deepEqual(totals(), { success: 9, failure: 0 });
      assert.equal(local.store.counters.duplicateReports, 2); // the inbound and the outbound report of the retry
      assert.equal(sender.streamsOpened, reporter.stats.failed + 1);
      await reporter.stop(2000);
    } finally {
      lossy.close();
      await local.close();
    }
  });

  it('reports with Report calls to a controller that has no ReportStream (the real Report handler alone), saying so once', async () => {
    const store = new TelemetryStore();
    const server = new grpc.Server();
    const loaded = lookup<grpc.ServiceClientConstructor>(loadProto('telemetry.proto'), 'sluice.proxy.telemetry.Telemetry').service;
    const deps = { store, identities: new PeerIdentities(), caches: new ReportDecodeCaches(), log: new Logger('error', 'plain', 'old-controller', () => {}), peers: undefined, keepNothing: false };
    server.addService({ Report: { ...(loaded['Report'] as grpc.MethodDefinition<Buffer, object>), requestDeserialize: (bytes: Buffer) => bytes } }, { Report: reportHandler(deps) });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => (error === null ? resolve(bound) : reject(error))),
    );
    try {
      const { sender, reporter, serve, totals, logs } = proxy(port, totalsOf(store));
      serve(4, 0);
      await reporter.tick();
      serve(1, 1);
      await reporter.tick();
      assert.deepEqual(totals(), { success: 5, failure: 1 });
      assert.deepEqual([reporter.stats.sent, reporter.stats.failed, sender.mode, sender.streamsOpened], [2, 0, 'unary', 1]);
      assert.equal(logs.filter((line) => line.includes('INFO') && line.includes('does not serve Telemetry.ReportStream')).length, 1);
      await reporter.stop(2000);
    } finally {
      server.forceShutdown();
    }
  });
});
