// h2c backend: node:http2 without TLS (prior knowledge), a tiny fixed response with content-length.
//   node perf/backends/h2c.ts --port N
import { createServer } from 'node:http2';
import { portFlag, exitOnSignals } from './args.ts';

const port = portFlag();
const body = Buffer.from('ok\n');

const server = createServer({ settings: { maxConcurrentStreams: 1000 } });
server.on('stream', (stream) => {
  stream.on('error', () => {});
  // Drain any request body; answer at once (the benchmark sends GET without a body).
  stream.resume();
  stream.respond({ ':status': 200, 'content-type': 'text/plain', 'content-length': String(body.length) });
  stream.end(body);
});
server.on('sessionError', () => {});
server.listen(port, '127.0.0.1');
exitOnSignals(() => server.close());
