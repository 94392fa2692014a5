// The fault matrix's upstream: one port that speaks HTTP/1.1, h2c (and gRPC over it) and opaque TCP,
// telling them apart by their first bytes as the proxy does, so that one forward address serves every
// column, also behind a two-proxy chain. Load requests are answered at once; the paths below make the
// upstream misbehave for the one request a fault targets, and it counts what it saw so a test can say
// exactly which requests reached it.
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { closeServer, listen } from '../support/net.ts';

const H2_PREFACE_START = Buffer.from('PRI * HTTP/2.0');

/** Paths (HTTP/1.1 and h2c), gRPC methods and TCP first bytes that make the upstream misbehave. */
export const FAULT = {
  /** Sends the head and part of the body, then resets the connection (HTTP/1.1) or the stream (h2). */
  resetMidBody: '/fault/reset-mid-body',
  /** Never answers (the request is held until the backend closes). */
  hang: '/fault/hang',
  /** Reads a body and counts it as aborted if the client goes away before its end. */
  upload: '/fault/upload',
  /** gRPC: one message, then the stream is reset. */
  grpcResetMidStream: '/sluice.fault.Load/ResetMidStream',
  grpcHang: '/sluice.fault.Load/Hang',
  grpcUpload: '/sluice.fault.Load/Upload',
  grpcCall: '/sluice.fault.Load/Call',
  /** TCP: the upstream resets the connection when a chunk starts with this. */
  tcpReset: 'RESET',
} as const;

export interface Backend {
  readonly port: number;
  readonly addr: string;
  /** Request ids (`x-load-id`, or a TCP payload's id) that reached the upstream. */
  readonly received: Set<string>;
  /** Uploads whose client went away before the end of the body. */
  abortedUploads: number;
  /** TCP connections closed by the client with bytes still expected (the victim's abort). */
  tcpAborted: number;
  /** Delay before answering a load request, ms (for shutdown tests: requests stay in flight). */
  delayMs: number;
  close(): Promise<void>;
}

/** A gRPC message: 1-byte compressed flag, 4-byte length, payload. */
export function grpcFrame(payload: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(payload.length, 1);
  return Buffer.concat([head, payload]);
}

export async function startBackend(): Promise<Backend> {
  const held = new Set<{ destroy(): void }>();
  const state: Backend = {
    port: 0,
    addr: '',
    received: new Set(),
    abortedUploads: 0,
    tcpAborted: 0,
    delayMs: 0,
    close: async () => {
      for (const h of held) h.destroy();
      h1.closeAllConnections();
      for (const s of sessions) s.destroy();
      for (const s of sockets) s.destroy();
      await closeServer(front);
    },
  };
  const later = (fn: () => void): void => {
    if (state.delayMs > 0) setTimeout(fn, state.delayMs);
    else fn();
  };

  const h1 = http.createServer((req, res) => {
    const id = req.headers['x-load-id'];
    if (typeof id === 'string') state.received.add(id);
    req.on('error', () => {});
    res.on('error', () => {});
    switch (req.url) {
      case FAULT.resetMidBody:
        res.writeHead(200, { 'content-length': '100000' });
        res.write('x'.repeat(1000), () => setTimeout(() => req.socket.resetAndDestroy(), 20));
        return;
      case FAULT.hang:
        held.add(req.socket);
        req.resume();
        return;
      case FAULT.upload: {
        let ended = false;
        req.on('end', () => {
          ended = true;
          res.end('uploaded');
        });
        req.on('close', () => {
          if (!ended) state.abortedUploads++;
        });
        req.resume();
        return;
      }
      default:
        req.resume();
        req.on('end', () => later(() => res.end(`ok ${req.url}`)));
    }
  });

  const sessions = new Set<http2.ServerHttp2Session>();
  const h2 = http2.createServer({ settings: { maxConcurrentStreams: 1000 } });
  h2.on('session', (session) => {
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
    session.on('error', () => {});
  });
  h2.on('stream', (stream, headers) => {
    const id = headers['x-load-id'];
    if (typeof id === 'string') state.received.add(id);
    stream.on('error', () => {});
    const path = String(headers[':path']);
    const grpc = String(headers['content-type'] ?? '').startsWith('application/grpc');
    switch (path) {
      case FAULT.resetMidBody:
        stream.respond({ ':status': 200 });
        // destroy(error) sends RST_STREAM(INTERNAL_ERROR); close(code) after a write ends the stream cleanly instead.
        stream.write('x'.repeat(1000), () => setTimeout(() => stream.destroy(new Error('fault: reset mid-body')), 20));
        return;
      case FAULT.grpcResetMidStream:
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
        stream.write(grpcFrame(Buffer.from('first')), () => setTimeout(() => stream.destroy(new Error('fault: reset mid-stream')), 20));
        return;
      case FAULT.hang:
      case FAULT.grpcHang:
        held.add(stream);
        stream.resume();
        return;
      case FAULT.upload:
      case FAULT.grpcUpload: {
        // node reports a client's CANCEL as an ordinary end of the body, so the body's length decides:
        // an upload that ends short of the length it announced was aborted.
        const expected = Number(headers['x-upload-length'] ?? 0);
        let bytes = 0;
        stream.on('data', (c: Buffer) => (bytes += c.length));
        stream.on('end', () => {
          if (bytes < expected || stream.destroyed) return;
          stream.respond({ ':status': 200 });
          stream.end();
        });
        stream.on('close', () => {
          if (bytes < expected) state.abortedUploads++;
        });
        stream.resume();
        return;
      }
      default: {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () =>
          later(() => {
            if (stream.destroyed) return;
            if (!grpc) {
              stream.respond({ ':status': 200 });
              stream.end(`ok ${path}`);
              return;
            }
            // Echoes the request's message back, then grpc-status 0 in trailers.
            stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
            stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
            stream.end(Buffer.concat(chunks));
          }),
        );
      }
    }
  });

  const sockets = new Set<net.Socket>();
  const tcp = (socket: net.Socket): void => {
    socket.on('data', (chunk: Buffer) => {
      const text = chunk.toString('latin1');
      if (text.startsWith(FAULT.tcpReset)) {
        socket.resetAndDestroy();
        return;
      }
      const id = /^\x00(\S+)/.exec(text)?.[1];
      if (id !== undefined) state.received.add(id);
      socket.write(chunk);
    });
    // A client that leaves without its half-close: the victim of "client aborts".
    socket.on('error', () => state.tcpAborted++);
    socket.on('end', () => socket.end());
  };

  const front = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    socket.once('readable', () => {
      const first = socket.read() as Buffer | null;
      if (first === null) return;
      socket.unshift(first);
      if (first.subarray(0, H2_PREFACE_START.length).equals(H2_PREFACE_START.subarray(0, Math.min(first.length, H2_PREFACE_START.length)))) h2.emit('connection', socket);
      else if (/^[A-Z]+ \S+ HTTP\/1/.test(first.toString('latin1', 0, Math.min(first.length, 64)))) h1.emit('connection', socket);
      else tcp(socket);
    });
  });
  (state as { port: number }).port = await listen(front);
  (state as { addr: string }).addr = `127.0.0.1:${state.port}`;
  return state;
}
