// The "application" clients of pod A in the end-to-end test (curl covers HTTP/1.1 and h2c):
//
//   node test/e2e/app.ts grpc <host> <port> [mark]   unary call + server stream; prints the replies as JSON
//   node test/e2e/app.ts tcp  <host> <port> [mark]   sends data, half-closes, reads the echo; prints JSON
//
// With a `mark` the data carries it where a capture can look for it (test/e2e/mtls.test.ts): gRPC sends
// `<mark>-grpc-message` as the unary request's text and `<mark>-grpc-metadata` in an `x-e2e-mark`
// header; TCP writes `<mark>-tcp-payload` into its payload (after the first octet, and mid-way).
//
// Exits non-zero with a message on any failure.
import net from 'node:net';
import grpc from '@grpc/grpc-js';
import { loadEcho, type EchoReply } from './echo-service.ts';

const [mode, host, portText, mark] = process.argv.slice(2);
const port = Number(portText);
if (host === undefined || !Number.isInteger(port)) {
  console.error('usage: app.ts grpc|tcp <host> <port> [mark]');
  process.exit(2);
}

async function grpcMain(): Promise<void> {
  const client = loadEcho().newClient(`${host}:${port}`);
  const deadline = (): Date => new Date(Date.now() + 10_000);
  client.waitForReady(deadline(), () => undefined);
  const unary = await new Promise<EchoReply>((resolve, reject) => {
    const metadata = new grpc.Metadata();
    if (mark !== undefined) metadata.set('x-e2e-mark', `${mark}-grpc-metadata`);
    const text = mark === undefined ? 'hello through sluice' : `${mark}-grpc-message`;
    client.Unary({ text, count: 0 }, metadata, (error, reply) => {
      if (error !== null) reject(error);
      else if (reply === undefined) reject(new Error('no reply'));
      else resolve(reply);
    });
  });
  const stream = await new Promise<EchoReply[]>((resolve, reject) => {
    const replies: EchoReply[] = [];
    const call = client.Stream({ text: 'streamed', count: 5 });
    call.on('data', (reply: EchoReply) => replies.push(reply));
    call.on('error', reject);
    call.on('end', () => resolve(replies));
  });
  client.close();
  console.log(JSON.stringify({ unary, stream }));
}

/** Deterministic bytes that cannot be mistaken for HTTP or TLS: a 0x00 first byte, then a pattern. */
function payload(size: number): Buffer {
  const data = Buffer.alloc(size);
  for (let i = 0; i < size; i++) data[i] = (i * 31 + 7) & 0xff;
  data[0] = 0;
  if (mark !== undefined) {
    const marked = Buffer.from(`${mark}-tcp-payload`, 'latin1');
    marked.copy(data, 1);
    marked.copy(data, size >>> 1);
  }
  return data;
}

async function tcpMain(): Promise<void> {
  const sent = payload(256 * 1024);
  const received = await new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = net.connect({ host, port });
    socket.setTimeout(10_000, () => socket.destroy(new Error('timed out waiting for the echo')));
    socket.on('connect', () => {
      // Write everything, then half-close: the echo (and the server's trailer) must still arrive.
      socket.end(sent);
    });
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => resolve(Buffer.concat(chunks)));
    socket.on('error', reject);
  });
  const echoed = received.subarray(0, sent.length);
  const trailer = received.subarray(sent.length).toString('latin1');
  const m = /^\n#remote=(.*)\n$/.exec(trailer);
  console.log(
    JSON.stringify({
      sentBytes: sent.length,
      receivedBytes: received.length,
      echoMatches: echoed.equals(sent),
      remote: m?.[1] ?? null,
      trailer: m === null ? trailer.slice(0, 200) : undefined,
    }),
  );
}

try {
  if (mode === 'grpc') await grpcMain();
  else if (mode === 'tcp') await tcpMain();
  else throw new Error(`unknown mode ${mode ?? ''}`);
} catch (error) {
  console.error(`app ${mode ?? ''} failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
