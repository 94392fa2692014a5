// `npx node perf/grpc-call-overhead.ts [--seconds 5] [--clients 200] [--rate 400]`: what grpc-js costs the
// controller per telemetry report, apart from Sluice: a grpc-js server whose handlers do nothing (raw
// bytes in and out) is sent 3 KB messages at a fixed rate from many clients, once as unary calls (how
// proxies send Telemetry.Report today) and once as messages on one long-lived bidirectional stream per
// client, each answered by a message. Prints the server's CPU per message for each form. The server is
// pinned to core 0, the clients to core 1; run it on a quiet machine.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import grpc from '@grpc/grpc-js';
import { freePort } from './lib/net.ts';
import { parseStatTicks, sleep } from './lib/procs.ts';

const identity = (b: Buffer): Buffer => b;
const SERVICE = {
  Report: { path: '/overhead.T/Report', requestStream: false, responseStream: false, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity },
  ReportStream: { path: '/overhead.T/ReportStream', requestStream: true, responseStream: true, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity },
} as const;
const EMPTY = Buffer.alloc(0);
const argv = process.argv.slice(2);
const opt = (name: string, fallback: number): number => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : fallback;
};

async function serve(port: number): Promise<void> {
  const server = new grpc.Server({ 'grpc.enable_channelz': 0 });
  server.addService(SERVICE as unknown as grpc.ServiceDefinition, {
    Report: (_call: unknown, done: (e: null, r: Buffer) => void) => done(null, EMPTY),
    ReportStream: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
      call.on('data', () => call.write(EMPTY));
      call.on('end', () => call.end());
    },
  });
  await new Promise<void>((resolve, reject) => server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (e) => (e ? reject(e) : resolve())));
  process.stdout.write('ready\n');
}

async function load(port: number, form: string, clients: number, rate: number, seconds: number): Promise<void> {
  const Client = grpc.makeGenericClientConstructor(SERVICE as unknown as grpc.ServiceDefinition, 'T');
  const payload = Buffer.alloc(3000, 7);
  const list = Array.from({ length: clients }, () => new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 }) as unknown as Record<string, (...a: unknown[]) => unknown>);
  const streams = form === 'stream' ? list.map((c) => (c['ReportStream'] as () => grpc.ClientDuplexStream<Buffer, Buffer>)()) : [];
  for (const s of streams) {
    s.on('data', () => {});
    s.on('error', () => {});
  }
  const end = performance.now() + seconds * 1000;
  let i = 0;
  const t0 = performance.now();
  while (performance.now() < end) {
    const due = Math.floor(((performance.now() - t0) / 1000) * rate);
    for (; i < due; i++) {
      const k = i % clients;
      if (form === 'stream') (streams[k] as grpc.ClientDuplexStream<Buffer, Buffer>).write(payload);
      else (list[k]?.['Report'] as (p: Buffer, cb: () => void) => void)(payload, () => {});
    }
    await sleep(1);
  }
  for (const s of streams) s.end();
  process.stdout.write(`${JSON.stringify({ sent: i })}\n`);
  await sleep(300);
  process.exit(0);
}

/** utime + stime of `pid`, in clock ticks (1/100 s). */
function ticks(pid: number): number {
  return parseStatTicks(readFileSync(`/proc/${pid}/stat`, 'utf8'));
}

const role = argv[0];
if (role === 'serve') await serve(Number(argv[1]));
else if (role === 'load') await load(Number(argv[1]), argv[2] as string, Number(argv[3]), Number(argv[4]), Number(argv[5]));
else {
  const seconds = opt('seconds', 5);
  const clients = opt('clients', 200);
  const rate = opt('rate', 400);
  const self = fileURLToPath(import.meta.url);
  for (const form of ['unary', 'stream', 'unary', 'stream']) {
    const port = await freePort();
    const server = spawn('taskset', ['-c', '0', process.execPath, self, 'serve', String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => server.stdout.once('data', () => resolve()));
    const client = spawn('taskset', ['-c', '1', process.execPath, self, 'load', String(port), form, String(clients), String(rate), String(seconds + 4)], { stdio: ['ignore', 'pipe', 'inherit'] });
    await sleep(2000); // connections and streams set up, JIT warm
    const a = ticks(server.pid as number);
    await sleep(seconds * 1000);
    const b = ticks(server.pid as number);
    await new Promise((r) => client.once('exit', r));
    server.kill();
    const usPerMessage = (((b - a) / 100) * 1e6) / (rate * seconds);
    console.log(`${form.padEnd(6)} grpc-js server CPU ${usPerMessage.toFixed(0)} µs per message (${(((b - a) / 100 / seconds) * 100).toFixed(1)} % of a core at ${rate}/s, ${clients} clients)`);
  }
}
