// The worker threads and the hand-off of accepted sockets to them, least open connections first.
// Open-connection counts live in shared memory, so balancing costs no message per connection close.
import type { PortPolicy } from '../api/inbound-policy.ts';
import type net from 'node:net';
import { Worker } from 'node:worker_threads';
import type { EluSource as EventLoopUtilizationSource } from './idle-trim.ts';
import type { LogLevel, ProxyConfig } from '../config/proxy-config.ts';
import type { Logger } from '../log/logger.ts';
import type { Snapshot } from '../telemetry/metrics.ts';
import type { TelemetryDelta } from '../telemetry/report-delta.ts';
import type { DiscoveryState } from '../workers/discovery/state.ts';
import type { FromWorker, ToWorker, WorkerData } from '../workers/messages.ts';
import type { ConnectionInfo } from '../workers/proxy/routing.ts';
import type { TapOut } from '../workers/tap/registry.ts';
import type { LocalIdentity } from '../workers/transport/local-identity.ts';
import { closeFd, dupFd, socketFd } from '../core/syscalls.ts';

// The worker's module has this module's extension: .ts in the repository, .js in the built package
// (dist/, where Node does not strip types and the compiler rewrote every import but this URL).
const OWN_EXTENSION = import.meta.url.endsWith('.js') ? '.js' : '.ts';
const WORKER_MAIN = new URL(`../workers/main${OWN_EXTENSION}`, import.meta.url).href;
/**
 * Each thread strips TypeScript on its own, and the transform costs tens of MB per thread; with the
 * compile cache on (as the main thread has it) a worker loads the stripped, compiled code from disk.
 */
const WORKER_BOOTSTRAP = `require('node:module').enableCompileCache?.(); import(${JSON.stringify(WORKER_MAIN)});`;
/** A worker that does not answer a metrics request within this is left out of that scrape. */
const SNAPSHOT_TIMEOUT_MS = 1000;

interface Slot {
  worker: Worker;
  ready: Promise<void>;
  /** Connections handed to this worker that it may not have taken in yet, oldest first. */
  handedOff: Array<{ fd: number; info: ConnectionInfo }>;
  /** How many connection messages were posted to it before handedOff[0]. */
  handedOffBase: number;
}

/** How the Tap server (tap-server.ts) hears from workers. */
export interface TapPoolHooks {
  events(worker: number, events: readonly TapOut[]): void;
  /** A worker died and a fresh one took its index: its tapped requests are gone, its taps must be re-sent. */
  replaced(worker: number): void;
}

/** How control-plane discovery (discovery-hub.ts) hears from workers. */
export interface DiscoveryPoolHooks {
  message(worker: number, message: Extract<FromWorker, { type: 'resolve' | 'release' }>): void;
  /** A worker died and a fresh one took its index: everything it asked for is released. */
  replaced(worker: number): void;
}

export class WorkerPool {
  readonly openConnections: Int32Array;
  private readonly adopted: Int32Array;
  private readonly config: ProxyConfig;
  private readonly log: Logger;
  private readonly slots: Slot[] = [];
  private nextRequestId = 1;
  private readonly pendingSnapshots = new Map<number, (snapshot: Snapshot) => void>();
  private readonly pendingTelemetry = new Map<number, (delta: TelemetryDelta) => void>();
  private lateTelemetry: TelemetryDelta[] = [];
  private drainWaiters: Array<() => void> = [];
  private stopping = false;
  /** The proxy's latest certificate: every worker holds it, a replacement worker gets it at birth. */
  private identity: LocalIdentity | undefined;
  /** Inbound policies from the controller, per port: every worker holds them, a replacement gets them at birth. */
  private readonly inboundPolicies = new Map<number, PortPolicy>();
  discoveryHooks: DiscoveryPoolHooks | undefined;
  tapHooks: TapPoolHooks | undefined;

  constructor(config: ProxyConfig, log: Logger) {
    this.config = config;
    this.log = log;
    this.openConnections = new Int32Array(new SharedArrayBuffer(4 * config.workers));
    this.adopted = new Int32Array(new SharedArrayBuffer(4 * config.workers));
    for (let i = 0; i < config.workers; i++) this.slots.push(this.spawn(i));
  }

  get size(): number {
    return this.slots.length;
  }

  /** Each worker's view of its event loop utilization (for the idle memory trim), current workers only. */
  eluSources(): EventLoopUtilizationSource[] {
    return this.slots.map((s) => s.worker.performance);
  }

  ready(): Promise<void> {
    return Promise.all(this.slots.map((s) => s.ready)).then(() => undefined);
  }

  private spawn(index: number): Slot {
    Atomics.store(this.adopted, index, 0);
    const data: WorkerData = { config: this.config, index, openConnections: this.openConnections, adopted: this.adopted };
    const worker = new Worker(WORKER_BOOTSTRAP, { eval: true, workerData: data, name: `sluice-worker-${index}` });
    // Queued until the worker listens: it serves its first connection with the certificate in use.
    if (this.identity !== undefined) worker.postMessage({ type: 'identity', identity: this.identity } satisfies ToWorker);
    for (const [port, policy] of this.inboundPolicies) worker.postMessage({ type: 'inbound-policy', port, policy } satisfies ToWorker);
    const ready = new Promise<void>((resolve, reject) => {
      worker.once('error', reject);
      worker.on('message', (message: FromWorker) => {
        if (message.type === 'ready') resolve();
        else if (message.type === 'tap-events') this.tapHooks?.events(index, message.events);
        else if (message.type === 'resolve' || message.type === 'release') this.discoveryHooks?.message(index, message);
        else this.onMessage(message);
      });
    });
    worker.on('error', (error) => this.log.error('worker thread failed', { worker: index, error: error.stack ?? error.message }));
    worker.once('exit', (code) => {
      if (this.stopping) return;
      // Its connections died with it; a fresh worker takes its place for new ones.
      this.log.error('worker thread exited; starting a new one', { worker: index, code });
      Atomics.store(this.openConnections, index, 0);
      // Connections posted to it that it never took in (it died first): no thread serves them, and their
      // clients would wait forever. Nothing was read from them, so its replacement takes them whole.
      const untaken = this.unadopted(index).splice(0);
      this.slots[index] = this.spawn(index);
      for (const { fd, info } of untaken) this.postConnection(index, fd, info);
      if (untaken.length > 0) this.log.warn('handed the connections the dead worker never took in to its replacement', { worker: index, connections: untaken.length });
      this.discoveryHooks?.replaced(index);
      this.tapHooks?.replaced(index);
    });
    return { worker, ready, handedOff: [], handedOffBase: 0 };
  }

  /** The connections posted to worker `index` that it has not taken in yet (forgetting those it has). */
  private unadopted(index: number): Array<{ fd: number; info: ConnectionInfo }> {
    const slot = this.slots[index];
    if (slot === undefined) return [];
    const taken = Atomics.load(this.adopted, index) - slot.handedOffBase;
    if (taken > 0) {
      slot.handedOff.splice(0, taken);
      slot.handedOffBase += taken;
    }
    return slot.handedOff;
  }

  private onMessage(message: FromWorker): void {
    if (message.type === 'snapshot') {
      this.pendingSnapshots.get(message.id)?.(message.snapshot);
      this.pendingSnapshots.delete(message.id);
    } else if (message.type === 'telemetry') {
      this.pendingTelemetry.get(message.id)?.(message.delta);
      this.pendingTelemetry.delete(message.id);
    } else if (message.type === 'drained') {
      this.drainWaiters.shift()?.();
    }
  }

  /** A destination's latest state, to a worker that asked for it. */
  postDiscovery(index: number, authority: string, state: DiscoveryState): void {
    this.post(index, { type: 'discovery', authority, state });
  }

  private post(index: number, message: ToWorker): void {
    this.slots[index]?.worker.postMessage(message);
  }

  postTo(index: number, message: ToWorker): void {
    this.post(index, message);
  }

  /** Picks the worker with the fewest open connections (lowest index on ties). */
  leastLoaded(): number {
    let best = 0;
    let bestCount = Atomics.load(this.openConnections, 0);
    for (let i = 1; i < this.slots.length; i++) {
      const count = Atomics.load(this.openConnections, i);
      if (count < bestCount) {
        best = i;
        bestCount = count;
      }
    }
    return best;
  }

  /**
   * Gives an accepted (paused) socket to a worker: the worker gets a duplicate of the descriptor, and
   * this thread's copy is destroyed. Nothing has been read from the socket, so no byte is lost.
   */
  handOff(socket: net.Socket, info: ConnectionInfo): void {
    const fd = socketFd(socket);
    if (fd === undefined) {
      socket.destroy();
      return;
    }
    let copy: number;
    try {
      copy = dupFd(fd);
    } catch (error) {
      this.log.warn('could not hand off connection', { error: (error as Error).message });
      socket.destroy();
      return;
    }
    this.postConnection(this.leastLoaded(), copy, info);
    socket.destroy();
  }

  private postConnection(index: number, fd: number, info: ConnectionInfo): void {
    Atomics.add(this.openConnections, index, 1);
    // Listed before it is posted: the worker may take it in (and count it) before post() returns.
    const untaken = this.unadopted(index);
    untaken.push({ fd, info });
    try {
      this.post(index, { type: 'connection', fd, ...info });
    } catch (error) {
      untaken.pop();
      Atomics.sub(this.openConnections, index, 1);
      closeFd(fd);
      this.log.warn('could not hand off connection', { error: (error as Error).message });
    }
  }

  snapshots(): Promise<Snapshot[]> {
    return Promise.all(
      this.slots.map(
        (_, index) =>
          new Promise<Snapshot>((resolve) => {
            const id = this.nextRequestId++;
            const timer = setTimeout(() => {
              this.pendingSnapshots.delete(id);
              resolve([]);
            }, SNAPSHOT_TIMEOUT_MS);
            this.pendingSnapshots.set(id, (snapshot) => {
              clearTimeout(timer);
              resolve(snapshot);
            });
            this.post(index, { type: 'snapshot', id });
          }),
      ),
    );
  }

  /**
   * What each worker counted since the previous call, for telemetry reports. An answer that arrives
   * after the timeout is not lost: it joins the next call's (without its gauges, which are stale).
   */
  telemetry(): Promise<TelemetryDelta[]> {
    const late = this.lateTelemetry;
    this.lateTelemetry = [];
    return Promise.all(
      this.slots.map(
        (_, index) =>
          new Promise<TelemetryDelta>((resolve) => {
            const id = this.nextRequestId++;
            const timer = setTimeout(() => {
              this.pendingTelemetry.set(id, (delta) => this.lateTelemetry.push(delta.filter((family) => family.kind !== 'gauge')));
              resolve([]);
            }, SNAPSHOT_TIMEOUT_MS);
            this.pendingTelemetry.set(id, (delta) => {
              clearTimeout(timer);
              resolve(delta);
            });
            this.post(index, { type: 'telemetry', id });
          }),
      ),
    ).then((deltas) => [...late, ...deltas]);
  }

  /** A new certificate (first or renewed), to every worker now and to any that replaces one later. */
  setIdentity(identity: LocalIdentity): void {
    this.identity = identity;
    for (let i = 0; i < this.slots.length; i++) this.post(i, { type: 'identity', identity });
  }

  /** A port's inbound policy (undefined: back to the default), to every worker now and later. */
  setInboundPolicy(port: number, policy: PortPolicy | undefined): void {
    if (policy === undefined) this.inboundPolicies.delete(port);
    else this.inboundPolicies.set(port, policy);
    for (let i = 0; i < this.slots.length; i++) this.post(i, { type: 'inbound-policy', port, policy });
  }

  setLogLevel(level: LogLevel): void {
    for (let i = 0; i < this.slots.length; i++) this.post(i, { type: 'log-level', level });
  }

  /** Asks every worker to drain; resolves when all have, then stops them. */
  async drain(graceMs: number): Promise<void> {
    this.stopping = true;
    const drained = this.slots.map(() => new Promise<void>((resolve) => this.drainWaiters.push(resolve)));
    for (let i = 0; i < this.slots.length; i++) this.post(i, { type: 'drain', graceMs });
    await Promise.all(drained);
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}
