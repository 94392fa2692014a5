// Yardstick peer: a bare Node TCP pipe (net + pipe), no parsing at all. The floor for any Node proxy.
//   node perf/peers/tcp-pipe.ts --port N --target-port M
import { createServer, connect } from 'node:net';
import { portFlag, exitOnSignals } from '../backends/args.ts';
import { splice } from './splice.ts';

const port = portFlag();
const targetPort = portFlag('target-port');

const server = createServer({ noDelay: true }, (client) => {
  splice(client, connect({ host: '127.0.0.1', port: targetPort, noDelay: true }));
});
server.listen(port, '127.0.0.1');
exitOnSignals(() => server.close());
