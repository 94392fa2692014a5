// Fault matrix, capacity rows: more HTTP/2 streams than an endpoint and the proxy's queue can hold (the
// proxy sheds exactly the excess with 503 / RESOURCE_EXHAUSTED, serves the rest, and recovers) — for
// h2c and gRPC on one proxy, for HTTP/1.1 on the mesh hop, where the outbound proxy carries HTTP/1.1
// requests to a peer proxy as HTTP/2 streams (orig-proto) — and a flood of distinct
// authorities (or TLS SNIs) whose metric labels stay within their budget of 1,000 values per label,
// with the process's memory growth bounded.
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { ERROR_RESPONSES } from '../../src/core/errors.ts';
import { MAX_CONNECTIONS_PER_ENDPOINT, MAX_WAITING_STREAMS } from '../../src/workers/proxy/h2/upstreams.ts';
import { MESH_TRANSPORT_ALPN } from '../../src/workers/transport/local-identity.ts';
import { eventually } from '../support/backends.ts';
import { listen } from '../support/net.ts';
import { metricValue } from '../support/proxy.ts';
import { startBackend, type Backend } from './backend.ts';
import { h2Request, http1Request, summarize, type Outcome, type Protocol } from './load.ts';
import { Results, startTopology, type Row, type Running } from './matrix.ts';
import { CLIENT_IDENTITY, MESH_AUTHORITY, startMeshHop } from './mesh-hop.ts';

const results = new Results('capacity');

const OVER: Row = 'load above capacity';
describe(OVER, () => {
  /**
   * Streams the proxy holds per endpoint beyond its connections' own limit (MAX_WAITING_STREAMS in
   * h2/upstreams.ts; the orig-proto streams of HTTP/1.1 requests queue the same way), and connections it
   * opens to one endpoint while every one is full: with a limit of 1, that many streams in flight.
   */
  const QUEUE = MAX_WAITING_STREAMS;
  const CONNS = MAX_CONNECTIONS_PER_ENDPOINT;
  const SENT = 400;

  for (const protocol of ['h2c', 'grpc'] as const) {
    it(`${protocol}: of ${SENT} streams to an endpoint that takes one at a time, ${CONNS} + ${QUEUE} are served and exactly ${SENT - CONNS - QUEUE} shed; then it recovers`, async (t) => {
      // An endpoint that allows one stream at a time and holds requests until released.
      let holding = true;
      const held: Array<() => void> = [];
      let received = 0;
      const server = http2.createServer({ settings: { maxConcurrentStreams: 1 } });
      server.on('session', (s) => s.on('error', () => {}));
      server.on('stream', (stream, headers) => {
        received++;
        stream.on('error', () => {});
        const grpc = String(headers['content-type'] ?? '').startsWith('application/grpc');
        const path = String(headers[':path']);
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          const answer = (): void => {
            if (stream.destroyed) return;
            if (!grpc) {
              stream.respond({ ':status': 200 });
              stream.end(`ok ${path}`);
              return;
            }
            stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
            stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
            stream.end(Buffer.concat(chunks));
          };
          if (holding && path !== '/warm') held.push(answer);
          else answer();
        });
      });
      const port = await listen(server);
      t.after(async () => {
        server.close();
      });
      const running = await startTopology('1 worker', `127.0.0.1:${port}`);
      t.after(() => running.stop());
      const grpc = protocol === 'grpc';
      const sessions = Array.from({ length: SENT / 100 }, () => {
        const s = http2.connect(`http://127.0.0.1:${running.port}`);
        s.on('error', () => {});
        return s;
      });
      t.after(() => sessions.forEach((s) => s.destroy()));
      // The upstream connection is open and its SETTINGS (one stream at a time) known before the burst.
      const warm = await h2Request(sessions[0] as http2.ClientHttp2Session, running.authority, '/warm', 'warm');
      assert.equal(warm.kind, 'ok', 'the warm-up request was answered');

      const outcomes: Outcome[] = [];
      const all = Array.from({ length: SENT }, (_, i) =>
        h2Request(sessions[i % sessions.length] as http2.ClientHttp2Session, running.authority, grpc ? undefined : `/load/${protocol}-${i}`, `${protocol}-${i}`, {}, grpc).then((o) => {
          outcomes.push(o);
          return o;
        }),
      );
      await eventually(() => outcomes.length >= SENT - CONNS - QUEUE, 30_000, 'the excess to be shed');
      const shedFirst = outcomes.length;
      holding = false;
      for (const answer of held.splice(0)) answer();
      const burst = await Promise.all(all);
      const shed = burst.filter((o) => o.kind === 'status' && (grpc ? o.grpcStatus === '8' : o.status === 503) && o.proxyError !== undefined);
      const served = burst.filter((o) => o.kind === 'ok');
      // Recovery: with the endpoint free again, a further 50 requests all succeed.
      const afterwards = await Promise.all(
        Array.from({ length: 50 }, (_, i) => h2Request(sessions[i % sessions.length] as http2.ClientHttp2Session, running.authority, grpc ? undefined : `/load/after-${i}`, `after-${i}`, {}, grpc)),
      );
      const recovered = afterwards.every((o) => o.kind === 'ok');
      const pass = shed.length === SENT - CONNS - QUEUE && served.length === CONNS + QUEUE && recovered && shedFirst === SENT - CONNS - QUEUE;
      results.record({
        row: OVER,
        column: protocol,
        topology: '1 worker',
        expected: `${SENT} streams at once to an endpoint with SETTINGS_MAX_CONCURRENT_STREAMS 1: one in flight on each of ${CONNS} connections + ${QUEUE} queued served, exactly ${SENT - CONNS - QUEUE} shed with ${grpc ? 'grpc-status 8 RESOURCE_EXHAUSTED' : '503'} + sluice-proxy-error before anything is answered; the next 50 all succeed`,
        measured: { burst: summarize(burst), shedBeforeRelease: shedFirst, upstreamReceived: received - 1, after: summarize(afterwards) },
        pass,
      });
      assert.equal(shedFirst, SENT - CONNS - QUEUE, 'the excess was shed while the endpoint was busy');
      assert.equal(shed.length, SENT - CONNS - QUEUE, JSON.stringify(summarize(burst)));
      assert.equal(served.length, CONNS + QUEUE);
      assert.ok(recovered, JSON.stringify(summarize(afterwards)));
    });
  }

  it(`http1: over the mesh hop, of ${SENT} HTTP/1.1 requests to a peer proxy that takes one stream at a time, ${CONNS} + ${QUEUE} are served and exactly ${SENT - CONNS - QUEUE} shed; then it recovers`, { timeout: 90_000 }, async (t) => {
    // The peer: HTTP/2 inside the mesh TLS, one stream at a time, requests held until released.
    let holding = true;
    const held: Array<() => void> = [];
    let received = 0;
    const origProto = new Map<string, number>();
    const server = http2.createServer({ settings: { maxConcurrentStreams: 1 } });
    server.on('session', (s) => s.on('error', () => {}));
    server.on('stream', (stream, headers) => {
      received++;
      const marked = String(headers['l5d-orig-proto'] ?? '(none)');
      origProto.set(marked, (origProto.get(marked) ?? 0) + 1);
      stream.on('error', () => {});
      const path = String(headers[':path']);
      stream.resume();
      stream.on('end', () => {
        const answer = (): void => {
          if (stream.destroyed) return;
          stream.respond({ ':status': 200 });
          stream.end(`ok ${path}`);
        };
        if (holding && path !== '/warm') held.push(answer);
        else answer();
      });
    });
    const hop = await startMeshHop(server);
    t.after(() => hop.stop());
    // The mesh connection is open and the peer's SETTINGS (one stream at a time) known before the burst.
    const warm = await http1Request(hop.port, MESH_AUTHORITY, '/warm', 'warm');
    assert.equal(warm.kind, 'ok', `the warm-up request was answered: ${JSON.stringify(warm)}\n${hop.proxy.logs()}`);

    // Each request on a connection of its own: all of them are in flight at the proxy at once.
    const outcomes: Outcome[] = [];
    const all = Array.from({ length: SENT }, (_, i) =>
      http1Request(hop.port, MESH_AUTHORITY, `/load/http1-${i}`, `http1-${i}`).then((o) => {
        outcomes.push(o);
        return o;
      }),
    );
    await eventually(() => outcomes.length >= SENT - CONNS - QUEUE, 30_000, 'the excess to be shed');
    const shedFirst = outcomes.length;
    holding = false;
    for (const answer of held.splice(0)) answer();
    const burst = await Promise.all(all);
    /** Requests of the burst the peer saw: the shed ones never left the proxy. */
    const receivedInBurst = received - 1;
    // Shed as overloaded (its queue to the peer full), not for any other reason (fail-fast, say).
    const shed = burst.filter((o) => o.kind === 'status' && o.status === 503 && o.proxyError === ERROR_RESPONSES.overloaded.message);
    const served = burst.filter((o) => o.kind === 'ok');
    // Recovery: with the peer free again, a further 50 requests all succeed.
    const afterwards = await Promise.all(Array.from({ length: 50 }, (_, i) => http1Request(hop.port, MESH_AUTHORITY, `/load/after-${i}`, `after-${i}`)));
    const recovered = afterwards.every((o) => o.kind === 'ok');
    const meshTls = hop.connections.every((c) => c.authorized && c.alpn === MESH_TRANSPORT_ALPN && c.clientIdentity === CLIENT_IDENTITY);
    const pass =
      shed.length === SENT - CONNS - QUEUE && served.length === CONNS + QUEUE && receivedInBurst === CONNS + QUEUE && recovered && shedFirst === SENT - CONNS - QUEUE && meshTls && origProto.get('HTTP/1.1') === received;
    results.record({
      row: OVER,
      column: 'http1',
      topology: 'mesh hop',
      expected: `${SENT} HTTP/1.1 requests at once (one connection each) to a service Destination resolves to one meshed endpoint (identity + h2 hint); the proxy (a real process with an identity from the controller) carries them as HTTP/2 streams (l5d-orig-proto) over mTLS connections (up to ${CONNS}) to a peer with SETTINGS_MAX_CONCURRENT_STREAMS 1: one in flight on each of ${CONNS} connections + ${QUEUE} queued served, exactly ${SENT - CONNS - QUEUE} shed with 503 + sluice-proxy-error "${ERROR_RESPONSES.overloaded.message}" before anything is answered; the next 50 all succeed`,
      measured: {
        burst: summarize(burst),
        shedBeforeRelease: shedFirst,
        proxyErrors: [...new Set(shed.map((o) => o.proxyError))],
        upstreamReceived: receivedInBurst,
        origProto: Object.fromEntries(origProto),
        meshConnections: hop.connections.length,
        after: summarize(afterwards),
      },
      pass,
    });
    assert.ok(meshTls, JSON.stringify(hop.connections));
    assert.deepEqual(Object.fromEntries(origProto), { 'HTTP/1.1': received }, 'every request crossed as an upgraded HTTP/1.1 request');
    assert.equal(shedFirst, SENT - CONNS - QUEUE, 'the excess was shed while the peer was busy');
    assert.equal(shed.length, SENT - CONNS - QUEUE, JSON.stringify(summarize(burst)));
    assert.equal(served.length, CONNS + QUEUE);
    assert.equal(receivedInBurst, CONNS + QUEUE, 'no shed request reached the peer');
    assert.ok(recovered, JSON.stringify(summarize(afterwards)));
  });

  it('tcp: does not apply', () =>
    results.notApplicable(OVER, 'tcp', 'a TCP connection is one upstream connection: nothing is queued in the proxy, so there is nothing to shed'));
});

const FLOOD: Row = 'a flood of distinct authorities';
describe(FLOOD, () => {
  const DISTINCT = 2000;
  let backend: Backend;
  let running: Running;
  before(async () => {
    backend = await startBackend();
    running = await startTopology('1 worker', backend.addr);
  });
  after(async () => {
    await running.stop();
    await backend.close();
  });

  /**
   * Distinct authorities that all name the proxy's own outbound listener (127.0.0.0/8 is loopback), so
   * no DNS is involved and every request goes to the forward address: the upstream.
   */
  const authority = (i: number): string => `127.${100 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}:${running.port}`;

  async function rss(): Promise<number> {
    return metricValue(await running.entry.metrics(), 'process_resident_memory_bytes');
  }

  async function flood(protocol: Protocol): Promise<Outcome[]> {
    const offset = { http1: 0, h2c: 10_000, grpc: 20_000, tcp: 30_000 }[protocol];
    const out: Outcome[] = [];
    if (protocol === 'http1') {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
      for (let i = 0; i < DISTINCT; i += 50) {
        out.push(...(await Promise.all(Array.from({ length: 50 }, (_, j) => http1Request(running.port, authority(offset + i + j), `/load/${i + j}`, `f${i + j}`, agent)))));
      }
      agent.destroy();
    } else if (protocol === 'tcp') {
      // TLS ClientHellos, each with its own SNI; the upstream is not TLS, so each handshake then fails.
      for (let i = 0; i < DISTINCT; i += 50) {
        await Promise.all(
          Array.from({ length: 50 }, (_, j) =>
            new Promise<void>((resolve) => {
              const socket = tls.connect({ host: '127.0.0.1', port: running.port, servername: `sni-${i + j}.flood.example`, rejectUnauthorized: false });
              socket.on('error', () => resolve());
              socket.on('close', () => resolve());
              socket.setTimeout(10_000, () => socket.destroy());
            }),
          ),
        );
      }
    } else {
      const session = http2.connect(`http://127.0.0.1:${running.port}`);
      session.on('error', () => {});
      for (let i = 0; i < DISTINCT; i += 50) {
        out.push(...(await Promise.all(Array.from({ length: 50 }, (_, j) => h2Request(session, authority(offset + i + j), protocol === 'grpc' ? undefined : `/load/${i + j}`, `f${i + j}`, {}, protocol === 'grpc')))));
      }
      session.close();
    }
    return out;
  }

  for (const protocol of ['http1', 'h2c', 'grpc', 'tcp'] as const) {
    it(`${protocol}: ${DISTINCT} distinct ${protocol === 'tcp' ? 'TLS SNIs' : 'authorities'}: every request served, at most 1,000 label values, memory bounded`, async () => {
      const label = protocol === 'tcp' ? 'sni' : 'authority';
      const before = await rss();
      const outcomes = await flood(protocol);
      const metrics = await running.entry.metrics();
      const family = protocol === 'tcp' ? 'tls_passthrough_total' : 'request_total';
      const values = new Set<string>();
      for (const line of metrics.split('\n')) {
        if (!line.startsWith(`${family}{`)) continue;
        const v = new RegExp(`${label}="([^"]*)"`).exec(line)?.[1];
        if (v !== undefined) values.add(v);
      }
      const overflow = metricValue(metrics, 'metric_label_overflow_total', { label });
      const growthMiB = ((await rss()) - before) / 2 ** 20;
      const failures = outcomes.filter((o) => o.kind !== 'ok');
      const pass = failures.length === 0 && values.size <= 1001 && values.has('__overflow__') && overflow > 0 && growthMiB < 64;
      results.record({
        row: FLOOD,
        column: protocol,
        topology: '1 worker',
        expected: `${DISTINCT} distinct ${label} values: ${protocol === 'tcp' ? 'every connection passed through' : 'every request answered 200'}; ≤ 1,000 ${label} label values + __overflow__; resident memory grows < 64 MiB`,
        measured: { requests: protocol === 'tcp' ? DISTINCT : summarize(outcomes), labelValues: values.size, overflowCounted: overflow, rssGrowthMiB: Math.round(growthMiB * 10) / 10 },
        pass,
      });
      assert.deepEqual(failures.slice(0, 3), []);
      assert.ok(values.size <= 1001, `${values.size} ${label} values`);
      assert.ok(values.has('__overflow__') && overflow > 0, 'the excess is counted under __overflow__');
      assert.ok(growthMiB < 64, `resident memory grew ${growthMiB.toFixed(1)} MiB`);
    });
  }
});

