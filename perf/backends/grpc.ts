// gRPC unary backend, written on plain node:http2 (cheaper than @grpc/grpc-js, so the proxy's cost shows):
// answers every call with one fixed length-prefixed message, then trailers `grpc-status: 0`.
//   node perf/backends/grpc.ts --port N
import { createServer } from 'node:http2';
import { portFlag, exitOnSignals } from './args.ts';
import { GRPC_RESPONSE } from '../lib/grpc-frame.ts';

const port = portFlag();

const server = createServer({ settings: { maxConcurrentStreams: 1000 } });
server.on('stream', (stream, headers) => {
  stream.on('error', () => {});
  const ct = headers['content-type'];
  if (typeof ct !== 'string' || !ct.startsWith('application/grpc')) {
    stream.respond({ ':status': 415 });
    stream.end();
    return;
  }
  // Unary: wait for the whole request (end of stream), then answer.
  stream.on('data', () => {});
  stream.on('end', () => {
    if (stream.destroyed) return;
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
    stream.end(GRPC_RESPONSE);
  });
});
server.on('sessionError', () => {});
server.listen(port, '127.0.0.1');
exitOnSignals(() => server.close());
