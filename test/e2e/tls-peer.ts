// A TLS client that is not a Sluice proxy, for the mTLS end-to-end test: it dials a pod's inbound port
// asking for the pod's identity with the mesh's ALPN, presents the certificate it is given (valid,
// expired, or from another trust anchor), and sends one HTTP/1.1 request through the tunnel — what a
// peer with stolen or forged credentials would try.
//
//   node test/e2e/tls-peer.ts --connect 10.231.77.2:18080 --servername NAME --ca anchors.pem \
//        --cert cert.pem --key key.pem --path /somewhere
//
// Prints one JSON line: whether the handshake completed and the server's certificate verified, the
// ALPN, the first octets of any answer, and the error that ended the connection. Exits 0 whenever it
// could try (the outcome is in the JSON), 2 on bad arguments.
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    connect: { type: 'string' },
    servername: { type: 'string' },
    ca: { type: 'string' },
    cert: { type: 'string' },
    key: { type: 'string' },
    path: { type: 'string', default: '/' },
  },
});
const m = /^(.*):(\d+)$/.exec(values.connect ?? '');
if (m === null || values.servername === undefined || values.ca === undefined) {
  console.error('usage: tls-peer.ts --connect HOST:PORT --servername NAME --ca FILE [--cert FILE --key FILE] [--path /p]');
  process.exit(2);
}

const result = await new Promise<Record<string, unknown>>((resolve) => {
  const out: Record<string, unknown> = { secureConnect: false };
  let answer = '';
  const socket = tls.connect({
    host: m[1],
    port: Number(m[2]),
    servername: values.servername,
    ca: readFileSync(values.ca as string),
    cert: values.cert === undefined ? undefined : readFileSync(values.cert),
    key: values.key === undefined ? undefined : readFileSync(values.key),
    ALPNProtocols: ['transport.l5d.io/v1'],
    minVersion: 'TLSv1.3',
  });
  socket.setTimeout(10_000, () => socket.destroy(Object.assign(new Error('no answer within 10 s'), { code: 'TIMEOUT' })));
  socket.on('secureConnect', () => {
    out['secureConnect'] = true;
    out['serverVerified'] = socket.authorized;
    out['alpn'] = socket.alpnProtocol;
    out['serverIdentity'] = socket.getPeerCertificate().subjectaltname;
    socket.write(`GET ${values.path} HTTP/1.1\r\nhost: ${values.servername}\r\nconnection: close\r\n\r\n`);
  });
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    answer += chunk;
  });
  socket.on('error', (error: Error & { code?: string }) => {
    out['error'] = `${error.code ?? ''} ${error.message}`.trim();
  });
  socket.on('close', () => {
    out['answer'] = answer.slice(0, 600);
    resolve(out);
  });
});
console.log(JSON.stringify(result));
