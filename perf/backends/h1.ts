// HTTP/1.1 backend: node:http, keep-alive, a tiny fixed response with Content-Length.
//   node perf/backends/h1.ts --port N
import { createServer } from 'node:http';
import { portFlag, exitOnSignals } from './args.ts';

const port = portFlag();
const body = Buffer.from('ok\n');
const headers = { 'content-type': 'text/plain', 'content-length': String(body.length) };

const server = createServer((req, res) => {
  // A request body (none in the benchmark) is drained before answering, so keep-alive stays usable.
  if (req.method === 'GET' || req.method === 'HEAD') {
    res.writeHead(200, headers);
    res.end(body);
    return;
  }
  req.resume();
  req.on('end', () => {
    res.writeHead(200, headers);
    res.end(body);
  });
});
// Proxies hold idle upstream connections between runs: don't close them under their feet.
server.keepAliveTimeout = 120_000;
server.headersTimeout = 130_000;
server.requestTimeout = 0;
server.maxRequestsPerSocket = 0;
server.listen(port, '127.0.0.1');
exitOnSignals(() => server.close());
