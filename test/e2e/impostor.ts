// A peer that lies about who it is, for the mTLS end-to-end test: TLS servers in pod B, beside the real
// inbound proxy, each presenting a certificate it was given (for another identity, expired, or from
// another trust anchor) and offering the mesh's ALPN, as a compromised or misconfigured pod would.
// Destination tells pod A's proxy that these endpoints are the server pod's identity; the proxy must
// refuse each handshake before sending a byte of the request.
//
//   node test/e2e/impostor.ts --host 10.231.77.2 --serve 19441:cert.pem:key.pem [--serve …]
//
// Prints `READY {...}` once listening, then one line per connection: `handshake completed on PORT`
// (followed by `received N bytes on PORT` if any application data came) or
// `handshake failed on PORT: <reason>` (the client's alert). Stops on SIGTERM.
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { host: { type: 'string' }, serve: { type: 'string', multiple: true } } });
const host = values.host ?? '127.0.0.1';
const log = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

const servers: tls.Server[] = [];
for (const spec of values.serve ?? []) {
  const [portText, certFile, keyFile] = spec.split(':');
  const port = Number(portText);
  if (!Number.isInteger(port) || certFile === undefined || keyFile === undefined) throw new Error(`--serve ${spec}: expected PORT:CERT:KEY`);
  const server = tls.createServer({
    cert: readFileSync(certFile),
    key: readFileSync(keyFile),
    ALPNProtocols: ['transport.l5d.io/v1'],
    minVersion: 'TLSv1.3',
  });
  server.on('secureConnection', (socket) => {
    log(`handshake completed on ${port}`);
    let bytes = 0;
    socket.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
    });
    socket.on('close', () => {
      if (bytes > 0) log(`received ${bytes} bytes on ${port}`);
    });
    socket.on('error', () => {});
  });
  server.on('tlsClientError', (error: Error & { code?: string }) => log(`handshake failed on ${port}: ${error.code ?? ''} ${error.message.trim()}`));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  servers.push(server);
}
log(`READY ${JSON.stringify({ host, ports: servers.map((s) => (s.address() as { port: number }).port) })}`);

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    for (const server of servers) server.close();
    process.exit(0);
  });
}
