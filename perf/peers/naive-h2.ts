// Yardstick peer: the naive Node HTTP/2 proxy: an h2c node:http2 server forwarding every stream over one
// node:http2 client session to the backend, headers and trailers copied, bodies piped.
//   node perf/peers/naive-h2.ts --port N --target-port M
import { createServer, connect, constants } from 'node:http2';
import type { ClientHttp2Session, IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http2';
import { portFlag, exitOnSignals } from '../backends/args.ts';

const port = portFlag();
const targetPort = portFlag('target-port');

let session: ClientHttp2Session | null = null;
function upstream(): ClientHttp2Session {
  if (session === null || session.closed || session.destroyed) {
    const s = connect(`http://127.0.0.1:${targetPort}`);
    s.on('error', () => {});
    s.on('close', () => {
      if (session === s) session = null;
    });
    session = s;
  }
  return session;
}

function copy(h: IncomingHttpHeaders, drop: string[]): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined && !drop.includes(k)) out[k] = v;
  return out;
}

const server = createServer({ settings: { maxConcurrentStreams: 1000 } });
server.on('stream', (stream, headers) => {
  stream.on('error', () => {});
  const up = upstream().request(copy(headers, []), { endStream: stream.endAfterHeaders });
  up.on('error', () => {
    if (!stream.headersSent && !stream.destroyed) stream.respond({ [constants.HTTP2_HEADER_STATUS]: 502 });
    stream.end();
  });
  let trailers: OutgoingHttpHeaders = {};
  up.on('response', (h) => {
    if (stream.destroyed) return;
    // Trailers are expected (and waited for) only on gRPC responses.
    const ct = h['content-type'];
    const grpc = typeof ct === 'string' && ct.startsWith('application/grpc');
    stream.respond(copy(h, []), { waitForTrailers: grpc });
    if (grpc) stream.once('wantTrailers', () => stream.sendTrailers(trailers));
  });
  up.on('trailers', (t) => {
    trailers = copy(t, []);
  });
  up.pipe(stream);
  if (!stream.endAfterHeaders) stream.pipe(up);
});
server.on('sessionError', () => {});
server.listen(port, '127.0.0.1');
exitOnSignals(() => server.close());
