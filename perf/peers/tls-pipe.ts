// Yardstick peer: one side of a mutual-TLS hop between two bare Node pipes, no parsing. Chained as
// client side → server side, it is the floor of a two-proxy Node chain whose middle hop is mTLS.
//   node perf/peers/tls-pipe.ts --side client|server --port N --target-port M --cert F --key F
// client: plaintext in, TLS 1.3 out to the target, presenting the certificate and verifying the
// server's against it; server: TLS in, requiring and verifying the client's certificate, plaintext out.
// Both sides use the same self-signed P-256 pair as their certificate and their only trust anchor.
import { createServer, connect } from 'node:net';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { flag, portFlag, exitOnSignals } from '../backends/args.ts';
import { splice } from './splice.ts';

const side = flag('side');
if (side !== 'client' && side !== 'server') throw new Error('--side must be client or server');
const port = portFlag();
const targetPort = portFlag('target-port');
const cert = readFileSync(flag('cert'));
const key = readFileSync(flag('key'));
const context = tls.createSecureContext({ cert, key, ca: cert, minVersion: 'TLSv1.3' });

const server =
  side === 'client'
    ? createServer({ noDelay: true }, (client) => {
        const upstream = tls.connect({ host: '127.0.0.1', port: targetPort, secureContext: context, servername: 'tls-pipe', checkServerIdentity: () => undefined });
        upstream.setNoDelay(true);
        splice(client, upstream);
      })
    : // (tls.Server builds its own context from these: it takes no ready secureContext.)
      tls.createServer({ cert, key, ca: cert, minVersion: 'TLSv1.3', requestCert: true, rejectUnauthorized: true }, (client) => {
        client.setNoDelay(true);
        splice(client, connect({ host: '127.0.0.1', port: targetPort, noDelay: true }));
      });
server.listen(port, '127.0.0.1');
exitOnSignals(() => server.close());
