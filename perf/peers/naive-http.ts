// Yardstick peer: the naive Node HTTP/1.1 proxy: node:http server, node:http client with a keep-alive
// Agent, headers copied, bodies piped. What "a proxy in Node" costs without any care.
//   node perf/peers/naive-http.ts --port N --target-port M
import { createServer, request, Agent } from 'node:http';
import { portFlag, exitOnSignals } from '../backends/args.ts';

const port = portFlag();
const targetPort = portFlag('target-port');
const agent = new Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 256 });

const server = createServer((req, res) => {
  const up = request(
    { host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers: req.headers, agent },
    (upRes) => {
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      upRes.pipe(res);
    },
  );
  up.on('error', () => {
    if (!res.headersSent) res.writeHead(502);
    res.end();
  });
  req.pipe(up);
});
server.keepAliveTimeout = 120_000;
server.listen(port, '127.0.0.1');
exitOnSignals(() => server.close());
