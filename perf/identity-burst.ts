// Identity under a burst: N proxies restarting at once each call Certify. The identity service runs in
// a child process (as in the controller: startIdentity with files and local tokens) that records its
// own event-loop delay (perf_hooks.monitorEventLoopDelay) and CPU over the burst; this process fires
// the N calls at once over C connections and times how long all of them take to be answered.
//
//   npx node perf/identity-burst.ts [--calls 500] [--connections 50] [--signer inline,worker] [--rounds 3]
//
// Figures are in docs/identity.md. A short run (seconds): this machine's cores are shared.
import { fork, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { controllerDefaults } from '../src/control/config.ts';
import { startIdentity } from '../src/control/identity/component.ts';
import { createLocalToken, formatTokenKey, generateTokenKey } from '../src/control/identity/local-token.ts';
import { createSigner, type SignerKind } from '../src/control/identity/signer.ts';
import { csrDer, identityOf, IdentityClient, quietLog, serveIdentity, tempDir, testPki, writeIssuerFiles } from '../src/control/identity/testkit.ts';

const { values } = parseArgs({
  options: {
    serve: { type: 'boolean' },
    dir: { type: 'string' },
    signer: { type: 'string', default: 'inline,worker' },
    calls: { type: 'string', default: '500' },
    connections: { type: 'string', default: '50' },
    rounds: { type: 'string', default: '3' },
  },
});

interface LoopStats {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
  readonly cpuMs: number;
}

type ToChild = { readonly type: 'start' } | { readonly type: 'stop' };
type FromChild = { readonly type: 'ready'; readonly address: string } | { readonly type: 'stats'; readonly stats: LoopStats };

/** The controller side: the identity service, and its event loop watched between `start` and `stop`. */
async function serve(dir: string, signer: SignerKind): Promise<void> {
  const config = {
    ...controllerDefaults(),
    identityIssuerFiles: { certificate: path.join(dir, 'issuer.crt'), key: path.join(dir, 'issuer.key'), anchors: path.join(dir, 'ca.crt') },
    identityTokenKeyFile: path.join(dir, 'token.key'),
  };
  const identity = await startIdentity(config, quietLog(), { kubeConfig: () => Promise.reject(new Error('unused')), signer: createSigner(signer) });
  if (identity === undefined) throw new Error('identity did not start');
  const server = await serveIdentity(identity.service.implementation());
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  let cpu = process.cpuUsage();
  process.on('message', (message: ToChild) => {
    if (message.type === 'start') {
      histogram.reset();
      histogram.enable();
      cpu = process.cpuUsage();
    } else {
      histogram.disable();
      const used = process.cpuUsage(cpu);
      const ms = (ns: number): number => ns / 1e6;
      const stats: LoopStats = {
        p50: ms(histogram.percentile(50)),
        p99: ms(histogram.percentile(99)),
        max: ms(histogram.max),
        mean: ms(histogram.mean),
        cpuMs: (used.user + used.system) / 1000,
      };
      process.send?.({ type: 'stats', stats } satisfies FromChild);
    }
  });
  process.on('disconnect', () => {
    server.close();
    void identity.close().then(() => process.exit(0));
  });
  process.send?.({ type: 'ready', address: server.address } satisfies FromChild);
}

function next(child: ChildProcess, type: FromChild['type']): Promise<FromChild> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${type} from the identity child in 60 s`)), 60_000);
    const onMessage = (message: FromChild): void => {
      if (message.type !== type) return;
      clearTimeout(timer);
      child.off('message', onMessage);
      resolve(message);
    };
    child.on('message', onMessage);
  });
}

async function burst(dir: string, signer: SignerKind, calls: number, connections: number, rounds: number, key: Buffer): Promise<void> {
  const child = fork(new URL(import.meta.url), ['--serve', `--dir=${dir}`, `--signer=${signer}`], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  try {
    const ready = (await next(child, 'ready')) as Extract<FromChild, { type: 'ready' }>;
    const clients = Array.from({ length: connections }, () => new IdentityClient(ready.address));
    const requests = await Promise.all(
      Array.from({ length: calls }, async (_, i) => {
        const sa = `sa-${i}`;
        const identity = identityOf(sa, 'burst');
        return { identity, token: createLocalToken(key, { serviceAccount: sa, namespace: 'burst' }), certificate_signing_request: await csrDer(identity) };
      }),
    );
    // Warm-up: connections open, code paths compiled.
    await Promise.all(clients.map((client, i) => client.certify(requests[i % calls]!)));
    for (let round = 1; round <= rounds; round++) {
      child.send({ type: 'start' } satisfies ToChild);
      await new Promise((resolve) => setTimeout(resolve, 50));
      const started = performance.now();
      const latencies = await Promise.all(
        requests.map(async (request, i) => {
          await clients[i % connections]!.certify(request);
          return performance.now() - started;
        }),
      );
      const allMs = performance.now() - started;
      const statsWait = next(child, 'stats');
      child.send({ type: 'stop' } satisfies ToChild);
      const { stats } = (await statsWait) as Extract<FromChild, { type: 'stats' }>;
      latencies.sort((a, b) => a - b);
      const f = (n: number): string => n.toFixed(1);
      console.log(
        `${signer.padEnd(6)} round ${round}: ${calls} calls answered in ${f(allMs)} ms (first ${f(latencies[0]!)} ms, median ${f(latencies[Math.floor(calls / 2)]!)} ms)` +
          ` | controller loop delay p50 ${f(stats.p50)} p99 ${f(stats.p99)} max ${f(stats.max)} ms | controller CPU ${f(stats.cpuMs)} ms (${f((stats.cpuMs * 1000) / calls)} µs/call)`,
      );
    }
    for (const client of clients) client.close();
  } finally {
    child.disconnect();
    await new Promise((resolve) => child.once('exit', resolve));
  }
}

if (values.serve === true) {
  await serve(values.dir as string, values.signer as SignerKind);
} else {
  const dir = tempDir();
  const pki = await testPki();
  await writeIssuerFiles(dir, pki.issuer, [pki.anchor]);
  const key = generateTokenKey();
  writeFileSync(path.join(dir, 'token.key'), formatTokenKey(key));
  const calls = Number(values.calls);
  const connections = Number(values.connections);
  const rounds = Number(values.rounds);
  for (const signer of (values.signer as string).split(',') as SignerKind[]) await burst(dir, signer, calls, connections, rounds, key);
}
