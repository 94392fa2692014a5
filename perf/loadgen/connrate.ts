// Connection-rate client for the handshake section of `npm run perf`: each of `--concurrency` loops opens
// a connection, sends one HTTP/1.1 request with `Connection: close`, reads the whole response, closes,
// and starts over, for `--warmup` + `--seconds`. Modes:
//   plain        plain TCP (what an unmeshed client or a plaintext hop costs per connection)
//   tls-full     mesh TLS as a Sluice proxy originates it (SNI = the server's identity, ALPN
//                transport.l5d.io/v1, our certificate as the client's, the server's chain verified
//                against the anchors and its name) and never offering a session: every handshake is full
//   tls-resumed  the same, offering the latest session ticket the server gave: resumed handshakes
// Prints `measuring` when the measured phase begins (the caller reads the server's CPU then) and one JSON
// line at its end: connections completed, errors, how many TLS sessions were resumed, latency.
//   node perf/loadgen/connrate.ts --port N --mode tls-full --server-name ID --cert F --key F --ca F
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { parseArgs } from 'node:util';
import { build } from 'hdr-histogram-js';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    mode: { type: 'string', default: 'plain' },
    seconds: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '1' },
    concurrency: { type: 'string', default: '8' },
    authority: { type: 'string', default: 'backend.perf.svc.cluster.local:80' },
    'server-name': { type: 'string' },
    cert: { type: 'string' },
    key: { type: 'string' },
    ca: { type: 'string' },
  },
});

type Mode = 'plain' | 'tls-full' | 'tls-resumed';
const MODES: readonly string[] = ['plain', 'tls-full', 'tls-resumed'];

function fail(message: string): never {
  process.stderr.write(`connrate: ${message}\n`);
  process.exit(2);
}

const port = Number(values.port);
if (!Number.isInteger(port) || port < 1 || port > 65535) fail(`--port must be 1–65535, got ${values.port}`);
if (!MODES.includes(values.mode)) fail(`--mode must be one of ${MODES.join(', ')}, got ${values.mode}`);
const mode = values.mode as Mode;
const seconds = Number(values.seconds);
const warmup = Number(values.warmup);
const concurrency = Number(values.concurrency);
if (!(seconds > 0) || !(warmup >= 0) || !Number.isInteger(concurrency) || concurrency < 1) fail('--seconds > 0, --warmup ≥ 0, --concurrency ≥ 1 integer');

let context: tls.SecureContext | undefined;
let serverName = '';
if (mode !== 'plain') {
  if (values['server-name'] === undefined || values.cert === undefined || values.key === undefined || values.ca === undefined) {
    fail('TLS modes need --server-name, --cert, --key and --ca');
  }
  serverName = values['server-name'];
  // One context for every connection, as the proxy does: parsing keys per connection is not the handshake's cost.
  context = tls.createSecureContext({ cert: readFileSync(values.cert), key: readFileSync(values.key), ca: readFileSync(values.ca), minVersion: 'TLSv1.3' });
}

const request = Buffer.from(`GET / HTTP/1.1\r\nHost: ${values.authority}\r\nConnection: close\r\n\r\n`);
const latency = build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
/** The latest ticket the server gave (tls-resumed only). */
let session: Buffer | undefined;
let measuring = false;
let stopping = false;
let completed = 0;
let errors = 0;
let resumed = 0;
let firstError: string | undefined;

function open(): net.Socket {
  if (mode === 'plain') return net.connect({ host: '127.0.0.1', port, noDelay: true });
  const socket = tls.connect({
    host: '127.0.0.1',
    port,
    servername: serverName,
    secureContext: context,
    ALPNProtocols: ['transport.l5d.io/v1'],
    minVersion: 'TLSv1.3',
    session: mode === 'tls-resumed' ? session : undefined,
  });
  socket.setNoDelay(true);
  if (mode === 'tls-resumed') socket.on('session', (ticket: Buffer) => (session = ticket));
  return socket;
}

/** One connection, one request; resolves when it is closed, whatever happened. */
function once(): Promise<void> {
  return new Promise((resolve) => {
    const began = performance.now();
    const counted = measuring;
    let head = '';
    let done = false;
    /** Read at secureConnect: once the socket is destroyed, isSessionReused() no longer says. */
    let reused = false;
    const socket = open();
    const finish = (error?: string): void => {
      if (done) return;
      done = true;
      socket.destroy();
      if (!counted) return resolve();
      if (error !== undefined) {
        errors++;
        firstError ??= error;
      } else {
        completed++;
        latency.recordValue(Math.max(1, Math.round((performance.now() - began) * 1000)));
        if (reused) resumed++;
      }
      resolve();
    };
    socket.on(mode === 'plain' ? 'connect' : 'secureConnect', () => {
      reused = socket instanceof tls.TLSSocket && socket.isSessionReused();
      socket.write(request);
    });
    socket.on('data', (chunk: Buffer) => {
      if (head.length < 16) head += chunk.toString('latin1');
    });
    socket.on('end', () => finish(head.startsWith('HTTP/1.1 200') ? undefined : `response began ${JSON.stringify(head.slice(0, 16))}`));
    socket.on('error', (err: NodeJS.ErrnoException) => finish(err.code ?? err.message));
    socket.setTimeout(10_000, () => finish('no answer within 10 s'));
  });
}

async function loop(): Promise<void> {
  while (!stopping) await once();
}

const loops = Array.from({ length: concurrency }, () => loop());
setTimeout(() => {
  measuring = true;
  process.stdout.write('measuring\n');
  const began = performance.now();
  setTimeout(() => {
    measuring = false;
    stopping = true;
    const elapsed = (performance.now() - began) / 1000;
    const result = {
      mode,
      concurrency,
      seconds: elapsed,
      connections: completed,
      errors,
      resumed,
      perSecond: completed / elapsed,
      latencyUs: { p50: latency.getValueAtPercentile(50), p99: latency.getValueAtPercentile(99), max: latency.maxValue },
      ...(firstError === undefined ? {} : { firstError }),
    };
    process.stdout.write(`${JSON.stringify(result)}\n`);
    void Promise.all(loops).then(() => process.exit(0));
  }, seconds * 1000);
}, warmup * 1000);
