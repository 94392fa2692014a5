// The history's sampler calls the public API's StatSummary handler in process: for a store filled by
// real reports (sent over gRPC to the controller's Telemetry service) it records exactly what the
// public API's HTTP/JSON answers to the same requests would have given (and the topology, which calls
// StatSummary the same way, draws the same edges), and it keeps sampling through a backend that fails
// (Prometheus answering 503), saying so once, and records again once the backend answers.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it, mock } from 'node:test';
import type { StatSummaryResponse } from '../../api/public-messages.ts';
import { Logger } from '../../log/logger.ts';
import { pod, podsOnlyDiscovery, startController, type RunningController } from '../../../test/support/controller.ts';
import { publicApiComponent } from '../public-api/component.ts';
import { telemetryComponent } from '../telemetry/component.ts';
import { sendReport, syntheticReport } from '../telemetry/testkit.ts';
import { PublicApiClient } from './api-client.ts';
import { SAMPLE_REQUESTS, StatHistory } from './history.ts';
import { HistorySampler, inProcessStatSummary, type StatSummaryCall } from './sampler.ts';
import { topology } from './topology.ts';

const quiet = (): Logger => new Logger('error', 'plain', 'test', () => {});

const PODS = [
  pod('shop', 'web-1', 'Deployment/web'),
  pod('shop', 'web-2', 'Deployment/web'),
  pod('shop', 'emoji-1', 'Deployment/emoji'),
  pod('shop', 'idle-1', 'Deployment/idle'),
  pod('data', 'db-0', 'StatefulSet/db'),
];

async function until(what: string, ms: number, done: () => boolean): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('HistorySampler', () => {
  let controller: RunningController;

  before(async () => {
    controller = await startController(podsOnlyDiscovery(() => PODS));
    const spread = (from: number, n: number): number[] => Array.from({ length: n }, (_, k) => from + k * 700);
    const reports = [
      syntheticReport({ pod: 'web-1', workload: 'deployment/web', requests: [{ ok: 40, failed: 10, latencyUs: spread(900, 50) }] }),
      syntheticReport({ pod: 'web-2', workload: 'deployment/web', requests: [{ ok: 20, latencyUs: spread(2_000, 20) }] }),
      syntheticReport({ pod: 'emoji-1', workload: 'deployment/emoji', requests: [{ ok: 30, failed: 3, latencyUs: spread(500, 33) }] }),
      syntheticReport({ namespace: 'data', pod: 'db-0', workload: 'statefulset/db', requests: [{ ok: 12, latencyUs: 15_000 }] }),
      syntheticReport({
        pod: 'web-1',
        workload: 'deployment/web',
        direction: 'outbound',
        requests: [
          { authority: 'emoji.shop.svc.cluster.local:80', ok: 25, failed: 5, latencyUs: spread(600, 30), dst: { namespace: 'shop', service: 'emoji', deployment: 'emoji', pod: 'emoji-1' } },
          { authority: 'db.data.svc.cluster.local:5432', ok: 8, latencyUs: 16_000, dst: { namespace: 'data', service: 'db', statefulset: 'db', pod: 'db-0' } },
        ],
      }),
      // A client in another namespace: the service rows sum what every meshed client saw.
      syntheticReport({
        namespace: 'data',
        pod: 'db-0',
        workload: 'statefulset/db',
        direction: 'outbound',
        requests: [{ authority: 'emoji.shop.svc.cluster.local:80', ok: 9, failed: 1, latencyUs: spread(400, 10), dst: { namespace: 'shop', service: 'emoji', deployment: 'emoji', pod: 'emoji-1' } }],
      }),
    ];
    for (const report of reports) await sendReport(controller.proxyApi, report);
  });
  after(() => controller?.close());

  it('records the same rows and values as the public API answers over HTTP/JSON for the same store', { timeout: 20_000 }, async () => {
    // One instant for both: a row's rates are over the seconds its window covered up to "now".
    const t = Date.now();
    mock.timers.enable({ apis: ['Date'], now: t });
    const overHttp = new StatHistory();
    const inProcess = new StatHistory();
    let answers: StatSummaryResponse[];
    try {
      const client = new PublicApiClient(`http://${controller.publicApi}`);
      answers = await Promise.all(SAMPLE_REQUESTS.map((request) => client.json<StatSummaryResponse>('StatSummary', request)));
      overHttp.record(t, answers);
      const sampler = new HistorySampler({ history: inProcess, statSummary: inProcessStatSummary(controller.ctx.publicApi) as StatSummaryCall, log: quiet(), now: () => t });
      await sampler.sampleOnce();
      assert.deepEqual(sampler.counters, { recorded: 1, failed: 0 });
    } finally {
      mock.timers.reset();
    }

    const everything = inProcess.query(() => true);
    assert.deepEqual(everything, overHttp.query(() => true));
    // And the comparison is not between two empty answers: every kind of row the sparklines show is there.
    assert.deepEqual(Object.keys(everything.series).sort(), [
      'deployment/shop/emoji',
      'deployment/shop/idle',
      'deployment/shop/web',
      'namespace//data',
      'namespace//shop',
      'pod/data/db-0',
      'pod/shop/emoji-1',
      'pod/shop/idle-1',
      'pod/shop/web-1',
      'pod/shop/web-2',
      'service/data/db',
      'service/shop/emoji',
      'statefulset/data/db',
    ]);
    const web = everything.series['deployment/shop/web'];
    assert.equal(web?.success[0], 60 / 70);
    assert.ok((web?.rps[0] ?? 0) > 0 && (web?.p99Ms[0] ?? 0) >= (web?.p50Ms[0] ?? 0));
    assert.equal(everything.series['service/shop/emoji']?.success[0], (25 + 9) / (30 + 10));
    // A pod with no traffic is followed, with no numbers.
    assert.deepEqual(everything.series['pod/shop/idle-1']?.rps, [null]);
  });

  it('gives the topology the same edges in process as over HTTP/JSON', { timeout: 20_000 }, async () => {
    mock.timers.enable({ apis: ['Date'], now: Date.now() });
    try {
      const client = new PublicApiClient(`http://${controller.publicApi}`);
      const overHttp = await topology((request) => client.json<StatSummaryResponse>('StatSummary', request), '', '1m');
      const inProcess = await topology(inProcessStatSummary(controller.ctx.publicApi) as StatSummaryCall, '', '1m');
      assert.deepEqual(inProcess, overHttp);
      assert.deepEqual(
        inProcess.edges.map((e) => `${e.from} -> ${e.to}`),
        ['deployment/shop/web -> deployment/shop/emoji', 'deployment/shop/web -> statefulset/data/db', 'statefulset/data/db -> deployment/shop/emoji'],
      );
    } finally {
      mock.timers.reset();
    }
  });

  it('keeps sampling while the backend fails, warns once, and records again once it answers', { timeout: 20_000 }, async () => {
    let failing = true;
    let queries = 0;
    const prometheus = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        queries++;
        if (failing) {
          res.writeHead(503, { 'content-type': 'text/plain' });
          res.end('Service Unavailable');
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ status: 'success', data: { resultType: 'vector', result: [] } }));
      });
    });
    await new Promise<void>((resolve) => prometheus.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(prometheus.address() as AddressInfo).port}`;
    const fromPrometheus = await startController(podsOnlyDiscovery(() => PODS), [telemetryComponent, publicApiComponent], 0, { prometheusUrl: url });
    const history = new StatHistory(50, 60_000);
    const lines: string[] = [];
    const log = new Logger('info', 'plain', 'dashboard', (line) => lines.push(line));
    const sampler = new HistorySampler({ history, statSummary: inProcessStatSummary(fromPrometheus.ctx.publicApi) as StatSummaryCall, log });
    try {
      sampler.start();
      await until('two failed rounds', 10_000, () => sampler.counters.failed >= 2);
      assert.equal(history.size, 0);
      assert.equal(sampler.counters.recorded, 0);
      assert.ok(queries > 0, 'the public API asked Prometheus');
      // One warning for the run of failures, naming the cause, not one per round.
      assert.equal(lines.length, 1, lines.join('\n'));
      assert.match(lines[0] ?? '', /WARN .*history sample failed.*Prometheus/);

      failing = false;
      await until('a recorded round', 10_000, () => sampler.counters.recorded >= 1);
      // Prometheus knows no series: the rows are discovery's, without numbers.
      const series = history.query(() => true).series;
      assert.deepEqual(series['deployment/shop/web']?.rps.slice(-1), [null]);
      assert.ok(series['pod/data/db-0'] !== undefined && series['namespace//shop'] !== undefined, Object.keys(series).join(', '));
      assert.match(lines.at(-1) ?? '', /INFO .*history sampling works again/);
    } finally {
      sampler.stop();
      await fromPrometheus.close();
      await new Promise((resolve) => prometheus.close(resolve));
    }
  });
});
