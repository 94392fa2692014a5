// Yardstick peer: a bare Node TCP pipe (net + pipe), no parsing at all. The floor for any Node proxy.
//   node perf/peers/tcp-pipe.ts --port N --target-port M
import { createServer, connect } from 'node:net';
import { portFlag, exitOnSignals } from '../backends/args.ts';

const port = portFlag();
const targetPort = portFlag('target-port');

const server = createServer({ noDelay: true }, (client) => {
  const upstream = connect({ host: '127.0.0.1', port: targetPort, noDelay: true });
  client.pipe(upstream).pipe(client);
  const close = (): void => {
    client.destroy();
    upstream.destroy();
  };
  client.on('error', close);
  upstream.on('error', close);
  client.on('close', close);
  upstream.on('close', close);
});
server.listen(port, '127.0.0.1');
exitOnSignals(() => server.close());
