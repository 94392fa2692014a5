// Micro-benchmark (not run by the tests): CPU per request of the lean HTTP/2 engine against node:http2,
// client and server in this one process over loopback, in the same run so that the ratio means something
// on a machine whose speed drifts. Each side keeps CONCURRENCY requests in flight on one connection
// (closed loop); CPU is the process's user + system time over the measured requests, both sides together.
//
//   npx node src/workers/http2/bench.ts [requests=20000] [concurrency=32] [engine]
// (a third argument `engine` runs the lean engine only, e.g. under --cpu-prof)
import { once } from 'node:events';
import http2 from 'node:http2';
import net from 'node:net';
import { H2Connection } from './connection.ts';
import type { H2Handler } from './handler.ts';
import type { H2Stream } from './stream.ts';

const REQUESTS = Number(process.argv[2] ?? 20_000);
const CONCURRENCY = Number(process.argv[3] ?? 32);
const BODY = Buffer.from('hello from the bench\n');
const REQUEST_HEAD = [':method', 'GET', ':scheme', 'http', ':path', '/bench', ':authority', 'bench.local', 'user-agent', 'bench/1'];
const RESPONSE_HEAD = [':status', '200', 'content-type', 'text/plain', 'content-length', String(BODY.length)];

/** The engine as a server: answers every request with BODY. */
class BenchServer implements H2Handler {
  conn!: H2Connection;
  onRequestHeaders(stream: H2Stream): void {
    this.conn.sendHeaders(stream, RESPONSE_HEAD, false);
    this.conn.sendData(stream, BODY, true);
  }
  onData(stream: H2Stream, data: Buffer): void {
    this.conn.consumed(stream, data.length);
  }
  onResponseHeaders(): void {}
  onHeadersTooLarge(): void {}
  onTrailers(): void {}
  onReset(): void {}
  onGoaway(): void {}
  onStreamWindow(): void {}
  onStreamCapacity(): void {}
  onPingAck(): void {}
  onClose(): void {}
}

/** The engine as a client: a closed loop of CONCURRENCY requests. */
class BenchClient implements H2Handler {
  conn!: H2Connection;
  done = 0;
  sent = 0;
  target = 0;
  finished: () => void = () => {};
  start(n: number): Promise<void> {
    this.done = 0;
    this.sent = 0;
    this.target = n;
    const p = new Promise<void>((resolve) => (this.finished = resolve));
    while (this.sent < Math.min(CONCURRENCY, n)) this.next();
    return p;
  }
  next(): void {
    this.sent++;
    this.conn.openStream(REQUEST_HEAD, true);
  }
  onData(stream: H2Stream, data: Buffer, endStream: boolean): void {
    this.conn.consumed(stream, data.length);
    if (endStream) this.complete();
  }
  onResponseHeaders(_stream: H2Stream, _headers: string[], _status: number, endStream: boolean): void {
    if (endStream) this.complete();
  }
  complete(): void {
    this.done++;
    if (this.done === this.target) this.finished();
    else if (this.sent < this.target && this.conn.canOpenStream()) this.next();
  }
  onRequestHeaders(): void {}
  onHeadersTooLarge(): void {}
  onTrailers(): void {}
  onReset(): void {}
  onGoaway(): void {}
  onStreamWindow(): void {}
  onStreamCapacity(): void {}
  onPingAck(): void {}
  onClose(): void {}
}

interface Result {
  name: string;
  cpuMicrosPerRequest: number;
  requestsPerSecond: number;
}

async function measure(name: string, run: (n: number) => Promise<void>): Promise<Result> {
  await run(Math.min(2000, REQUESTS));
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await run(REQUESTS);
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { name, cpuMicrosPerRequest: (cpu.user + cpu.system) / REQUESTS, requestsPerSecond: (REQUESTS * 1000) / wall };
}

async function engine(): Promise<Result> {
  const server = net.createServer((socket) => {
    const handler = new BenchServer();
    handler.conn = new H2Connection(socket, 'server', handler);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const socket = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  await once(socket, 'connect');
  const client = new BenchClient();
  client.conn = new H2Connection(socket, 'client', client);
  const result = await measure('lean engine ↔ lean engine', (n) => client.start(n));
  client.conn.close();
  server.close();
  return result;
}

async function nodeHttp2(): Promise<Result> {
  const server = http2.createServer();
  server.on('stream', (stream) => {
    stream.respond({ ':status': 200, 'content-type': 'text/plain', 'content-length': BODY.length });
    stream.end(BODY);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const session = http2.connect(`http://127.0.0.1:${(server.address() as net.AddressInfo).port}`);
  await once(session, 'connect');
  const headers = { ':method': 'GET', ':path': '/bench', ':authority': 'bench.local', 'user-agent': 'bench/1' };
  const run = (n: number): Promise<void> =>
    new Promise((resolve) => {
      let sent = 0;
      let done = 0;
      const next = (): void => {
        sent++;
        const req = session.request(headers);
        req.on('data', () => {});
        req.on('end', () => {
          done++;
          if (done === n) resolve();
          else if (sent < n) next();
        });
        req.end();
      };
      while (sent < Math.min(CONCURRENCY, n)) next();
    });
  const result = await measure('node:http2 ↔ node:http2', run);
  session.close();
  server.close();
  return result;
}

const results = process.argv[4] === 'engine' ? [await engine(), await engine()] : [await nodeHttp2(), await engine(), await nodeHttp2(), await engine()];
for (const r of results) console.log(`${r.name.padEnd(28)} ${r.cpuMicrosPerRequest.toFixed(1).padStart(7)} µs CPU/request (client + server)  ${Math.round(r.requestsPerSecond)} req/s`);
const best = (name: string): number => Math.min(...results.filter((r) => r.name === name).map((r) => r.cpuMicrosPerRequest));
if (results.some((r) => r.name.startsWith('node'))) console.log(`ratio node:http2 / lean engine: ${(best('node:http2 ↔ node:http2') / best('lean engine ↔ lean engine')).toFixed(2)}×`);
