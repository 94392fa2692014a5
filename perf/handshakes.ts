// The handshake section of `npm run perf`: what a new connection costs the inbound proxy, in plaintext
// and in mesh mTLS. Warm connections (the sluice-mesh-2-mtls target) show the cost of encrypting records;
// this shows the cost of making connections, which a mesh pays when pools are cold, when peers restart,
// or for clients that do not keep connections alive.
//
// One proxy B as in a pod (an identity from the controller's Identity service, inbound forward to the
// HTTP/1.1 backend), measured directly: the client (perf/loadgen/connrate.ts, on the load core) presents a
// mesh certificate as proxy A would, SNI = B's identity, ALPN transport.l5d.io/v1, and opens connections
// in a loop, one request each (`Connection: close`). Modes: plain TCP, full handshakes (no session
// offered), resumed handshakes (the server's latest session ticket offered). The figure that does not
// depend on the client is B's CPU per connection; connections per second is what this one client reached
// (it does the other half of every handshake on one core) and is reported beside it, as is the client's
// CPU. Going through proxy A instead would mix A's client-side handshakes and pool into B's figure.
import { join } from 'node:path';
import { BACKENDS } from './targets.ts';
import { CLIENT_IDENTITY, SERVER_IDENTITY, prepareMeshIdentity } from './lib/mesh-identity.ts';
import { meshDiscoveryYaml, sumSamples } from './lib/mesh.ts';
import { freePort } from './lib/net.ts';
import { waitQuiet } from './lib/noise.ts';
import { waitWorking } from './lib/probe.ts';
import { cpuSeconds, start, stop, treeCpuSeconds } from './lib/procs.ts';
import type { Started } from './lib/procs.ts';
import { fetchMetrics, sluicePorts, startController, startSluice } from './lib/sluice-proc.ts';
import type { HandshakeMode, HandshakeResult, HandshakeRun } from './lib/types.ts';

export const HANDSHAKE_MODES: readonly HandshakeMode[] = ['plain', 'tls-full', 'tls-resumed'];

export interface HandshakeBenchOptions {
  root: string;
  /** Private scratch directory. */
  dir: string;
  /** Core of the proxy, the backend and the controller; the client runs on `loadCore`. */
  proxyCore: number | undefined;
  loadCore: number | undefined;
  seconds: number;
  warmupSeconds: number;
  concurrency: number;
  quiet: { threshold: number; maxWaitMs: number };
  log: (line: string) => void;
}

interface ClientArgs {
  port: number;
  mode: HandshakeMode;
  tls: { certFile: string; keyFile: string; caFile: string };
}

/** Runs the client once; B's and the client's CPU are read when it starts measuring and when it reports. */
function runClient(o: HandshakeBenchOptions, proxy: Started, c: ClientArgs): Promise<HandshakeRun> {
  const args = [
    join(o.root, 'perf', 'loadgen', 'connrate.ts'),
    ...['--port', String(c.port), '--mode', c.mode, '--seconds', String(o.seconds), '--warmup', String(o.warmupSeconds)],
    ...['--concurrency', String(o.concurrency), '--server-name', SERVER_IDENTITY],
    ...['--cert', c.tls.certFile, '--key', c.tls.keyFile, '--ca', c.tls.caFile],
  ];
  return new Promise((resolveRun, reject) => {
    let out = '';
    let at0: { proxy: number; client: number } | undefined;
    let at1: { proxy: number; client: number } | undefined;
    const read = (): { proxy: number; client: number } => ({ proxy: treeCpuSeconds(proxy.pid), client: cpuSeconds(p.pid) });
    const p: Started = start(`connrate-${c.mode}`, process.execPath, args, {
      core: o.loadCore,
      onStdout: (chunk) => {
        out += chunk.toString('utf8');
        if (at0 === undefined && out.includes('measuring\n')) at0 = read();
        if (at1 === undefined && /\n\{.*\}\n/.test(out)) at1 = read();
      },
    });
    const limit = setTimeout(() => process.kill(p.pid, 'SIGKILL'), (o.seconds + o.warmupSeconds + 30) * 1000);
    void p.exited.then((code) => {
      clearTimeout(limit);
      const line = out.trim().split('\n').pop() ?? '';
      if (code !== 0 || !line.startsWith('{') || at0 === undefined || at1 === undefined) {
        reject(new Error(`handshake client (${c.mode}) exited with ${code}: ${p.stderrTail().trim().slice(-800)}`));
        return;
      }
      const r = JSON.parse(line) as Omit<HandshakeRun, 'proxyCpuUsPerConnection' | 'clientCpuUsPerConnection'>;
      const per = (seconds: number): number => (r.connections === 0 ? 0 : (seconds * 1e6) / r.connections);
      resolveRun({ ...r, proxyCpuUsPerConnection: per(at1.proxy - at0.proxy), clientCpuUsPerConnection: per(at1.client - at0.client) });
    });
  });
}

export async function benchHandshakes(o: HandshakeBenchOptions): Promise<HandshakeResult> {
  const result: HandshakeResult = { ok: false, runs: [], notes: [] };
  const started: Started[] = [];
  try {
    const backendPort = await freePort();
    const backend = start('handshakes-backend', process.execPath, [join(o.root, 'perf', 'backends', BACKENDS.h1), '--port', String(backendPort)], { core: o.proxyCore });
    started.push(backend);
    await waitWorking('h1', backendPort, 10_000);

    const identity = await prepareMeshIdentity(join(o.dir, 'identity'));
    const bPorts = await sluicePorts();
    const yaml = meshDiscoveryYaml({ ip: '127.0.0.1', port: bPorts.inbound, meshed: true });
    const ctl = await startController(o.root, o.dir, yaml, o.proxyCore, undefined, [...identity.controllerArgs, '--identity-addr', '127.0.0.1:0']);
    started.push(ctl.proc);
    if (ctl.identity === undefined) throw new Error('the controller logged no identity address');
    const routing = { workers: 1, inboundForward: backendPort, destination: ctl.proxyApi, identity: identity.proxyEnv('backend', ctl.identity) };
    const b = await startSluice(o.root, 'handshakes-B', o.proxyCore, routing, bPorts);
    started.push(b.proc);
    const leaf = await identity.clientLeaf(CLIENT_IDENTITY);
    const tls = { certFile: leaf.certFile, keyFile: leaf.keyFile, caFile: identity.anchorsFile };

    for (const mode of HANDSHAKE_MODES) {
      await waitQuiet(o.quiet.threshold, o.quiet.maxWaitMs);
      const run = await runClient(o, b.proc, { port: b.inbound, mode, tls });
      result.runs.push(run);
      o.log(
        `handshakes · ${mode}: ${Math.round(run.perSecond).toLocaleString('en-US')} connections/s, inbound proxy CPU ${run.proxyCpuUsPerConnection.toFixed(0)} µs/connection ` +
          `(client ${run.clientCpuUsPerConnection.toFixed(0)}), p99 ${Math.round(run.latencyUs.p99).toLocaleString('en-US')} µs, resumed ${run.resumed}, errors ${run.errors}`,
      );
      if (run.errors > 0) result.notes.push(`${mode}: ${run.errors} errors, first: ${run.firstError ?? '?'}`);
    }
    // The TLS modes must have been terminated by B as mesh TLS from the client's identity, not passed through.
    const tlsConnections = result.runs.filter((r) => r.mode !== 'plain').reduce((s, r) => s + r.connections, 0);
    const terminated = sumSamples(await fetchMetrics(b.admin), 'request_total', { direction: 'inbound', tls: 'true', client_id: CLIENT_IDENTITY });
    if (terminated < tlsConnections) {
      throw new Error(`the inbound proxy counted ${terminated} mTLS requests from ${CLIENT_IDENTITY}, fewer than the ${tlsConnections} TLS connections the client completed`);
    }
    const resumedRun = result.runs.find((r) => r.mode === 'tls-resumed');
    if (resumedRun !== undefined && resumedRun.resumed < resumedRun.connections) {
      result.notes.push(`tls-resumed: the inbound proxy resumed ${resumedRun.resumed} of ${resumedRun.connections} sessions offered`);
    }
    result.ok = true;
  } catch (err) {
    result.error = err instanceof Error ? err.message : String(err);
    o.log(`handshakes: FAILED: ${result.error.split('\n')[0]}`);
  } finally {
    await Promise.all(started.reverse().map((p) => stop(p)));
  }
  return result;
}
