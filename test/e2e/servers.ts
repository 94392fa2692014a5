// The "application" servers of pod B in the end-to-end test: HTTP/1.1, h2c, gRPC and a raw TCP echo,
// each on its own port of one address. Every answer carries the remote address the server saw, so
// the test can tell a connection from the inbound proxy (pod B's own address) from a direct one.
//
//   node test/e2e/servers.ts --host 10.231.77.2 --http1 18080 --h2c 18082 --grpc 18083 --tcp 18084
//
// Prints `READY {...}` once every server listens; logs one line per request; stops on SIGTERM.
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { parseArgs } from 'node:util';
import type { Readable } from 'node:stream';
import grpc from '@grpc/grpc-js';
import { loadEcho, peerHost, type EchoReply, type EchoRequest } from './echo-service.ts';

const { values } = parseArgs({
  options: {
    host: { type: 'string' },
    http1: { type: 'string' },
    h2c: { type: 'string' },
    grpc: { type: 'string' },
    tcp: { type: 'string' },
  },
});
const host = values.host ?? '127.0.0.1';
const port = (name: string, value: string | undefined): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new Error(`--${name}: bad port ${value}`);
  return n;
};

/** The IPv4-mapped prefix removed, so `::ffff:10.0.0.2` reads `10.0.0.2`. */
const plain = (address: string | undefined): string => (address ?? '?').replace(/^::ffff:/, '');
const log = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

function readBody(stream: Readable): Promise<number> {
  return new Promise((resolve, reject) => {
    let bytes = 0;
    stream.on('data', (chunk: Buffer) => (bytes += chunk.length));
    stream.on('end', () => resolve(bytes));
    stream.on('error', reject);
  });
}

function listen(server: net.Server, p: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(p, host, () => resolve());
  });
}

const closers: Array<() => void> = [];

// HTTP/1.1
const http1Port = port('http1', values.http1);
const http1Server = http.createServer(async (req, res) => {
  const bodyBytes = await readBody(req);
  const remote = plain(req.socket.remoteAddress);
  log(`http1 ${req.method} ${req.url} HTTP/${req.httpVersion} from ${remote}`);
  const body = JSON.stringify({ server: 'http1', remote, httpVersion: req.httpVersion, method: req.method, path: req.url, host: req.headers.host, bodyBytes });
  res.writeHead(200, { 'content-type': 'application/json', 'x-sluice-e2e': 'http1' });
  res.end(body);
});
await listen(http1Server, http1Port);
closers.push(() => http1Server.close());

// h2c (HTTP/2 over cleartext, prior knowledge)
const h2cPort = port('h2c', values.h2c);
const h2cServer = http2.createServer(async (req, res) => {
  const bodyBytes = await readBody(req);
  const remote = plain(req.socket.remoteAddress);
  log(`h2c ${req.method} ${req.url} HTTP/${req.httpVersion} from ${remote}`);
  const body = JSON.stringify({ server: 'h2c', remote, httpVersion: req.httpVersion, method: req.method, path: req.url, authority: req.headers[':authority'], bodyBytes });
  res.writeHead(200, { 'content-type': 'application/json', 'x-sluice-e2e': 'h2c' });
  res.end(body);
});
await listen(h2cServer, h2cPort);
closers.push(() => h2cServer.close());

// gRPC
const grpcPort = port('grpc', values.grpc);
const echo = loadEcho();
const grpcServer = new grpc.Server();
grpcServer.addService(echo.service, {
  Unary(call: grpc.ServerUnaryCall<EchoRequest, EchoReply>, callback: grpc.sendUnaryData<EchoReply>) {
    const peer = peerHost(call.getPeer());
    log(`grpc Unary from ${peer}`);
    callback(null, { text: call.request.text, peer, index: 0 });
  },
  Stream(call: grpc.ServerWritableStream<EchoRequest, EchoReply>) {
    const peer = peerHost(call.getPeer());
    log(`grpc Stream x${call.request.count} from ${peer}`);
    for (let index = 0; index < call.request.count; index++) call.write({ text: call.request.text, peer, index });
    call.end();
  },
});
await new Promise<void>((resolve, reject) => {
  grpcServer.bindAsync(`${host}:${grpcPort}`, grpc.ServerCredentials.createInsecure(), (error) => (error ? reject(error) : resolve()));
});
closers.push(() => grpcServer.forceShutdown());

// Raw TCP echo: echoes everything; when the client half-closes, appends `\n#remote=<addr>\n` and closes.
const tcpPort = port('tcp', values.tcp);
const tcpServer = net.createServer({ allowHalfOpen: true }, (socket) => {
  const remote = plain(socket.remoteAddress);
  let bytes = 0;
  socket.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
    socket.write(chunk);
  });
  socket.on('end', () => {
    log(`tcp ${bytes} bytes then half-close from ${remote}`);
    socket.end(`\n#remote=${remote}\n`);
  });
  socket.on('error', (error) => log(`tcp error from ${remote}: ${error.message}`));
});
await listen(tcpServer, tcpPort);
closers.push(() => tcpServer.close());

log(`READY ${JSON.stringify({ host, http1: http1Port, h2c: h2cPort, grpc: grpcPort, tcp: tcpPort, uid: process.getuid?.() })}`);

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    for (const close of closers) close();
    process.exit(0);
  });
}
