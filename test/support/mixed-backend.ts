// One backend port that answers HTTP/1.1, h2c and gRPC, as an application behind an inbound proxy does
// (the proxy forwards every protocol to the same address), and counts what it answered per protocol so
// that a test can compare it with what its clients got. HTTP/1.1 requests for `/slow…` are answered after
// SLOW_MS and counted apart (`slow`): requests that overlap, so that a proxy must open more connections. The protocol is told by the connection's first
// bytes (the HTTP/2 preface or not); gRPC is an h2c request for perf/lib/grpc-frame.ts's Unary method.
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { GRPC_PATH, GRPC_RESPONSE } from '../../perf/lib/grpc-frame.ts';
import { closeServer, listen } from './net.ts';

const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
export const SLOW_MS = 300;

export interface MixedBackend {
  readonly port: number;
  /** Responses sent, per protocol. */
  readonly answered: { h1: number; h2c: number; grpc: number; slow: number };
  /** Headers of the last request of each protocol (to look at what the proxy added). */
  readonly lastHeaders: { h1?: http.IncomingHttpHeaders; h2?: http2.IncomingHttpHeaders };
  close(): Promise<void>;
}

export async function startMixedBackend(): Promise<MixedBackend> {
  const answered = { h1: 0, h2c: 0, grpc: 0, slow: 0 };
  const lastHeaders: MixedBackend['lastHeaders'] = {};
  const h1 = http.createServer((req, res) => {
    lastHeaders.h1 = req.headers;
    req.resume();
    req.on('end', () => {
      const slow = req.url?.startsWith('/slow') === true;
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('ok\n');
        if (slow) answered.slow++;
        else answered.h1++;
      }, slow ? SLOW_MS : 0);
    });
  });
  const h2 = http2.createServer();
  h2.on('stream', (stream, headers) => {
    lastHeaders.h2 = headers;
    stream.on('error', () => {});
    stream.resume();
    stream.on('end', () => {
      if (headers[':path'] === GRPC_PATH) {
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
        stream.end(GRPC_RESPONSE);
        answered.grpc++;
      } else {
        stream.respond({ ':status': 200, 'content-type': 'text/plain' });
        stream.end('ok\n');
        answered.h2c++;
      }
    });
  });
  const sockets = new Set<net.Socket>();
  const front = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk]);
      // Enough bytes to tell (or a prefix of the preface that is not it any more).
      const n = Math.min(head.length, H2_PREFACE.length);
      const maybeH2 = head.subarray(0, n).equals(H2_PREFACE.subarray(0, n));
      if (maybeH2 && head.length < H2_PREFACE.length) return;
      socket.off('data', onData);
      socket.pause();
      socket.unshift(head);
      // platform-notes.md: HTTP/1 needs resume() after the hand-over, HTTP/2 must not get it.
      if (maybeH2) h2.emit('connection', socket);
      else {
        h1.emit('connection', socket);
        socket.resume();
      }
    };
    socket.on('data', onData);
  });
  const port = await listen(front);
  return {
    port,
    answered,
    lastHeaders,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await closeServer(front);
    },
  };
}
