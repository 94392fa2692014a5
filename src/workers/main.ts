// Entry point of a worker thread: adopts the sockets the acceptor hands over and serves them.
import net from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import { closeSync } from 'node:fs';
import { Logger } from '../log/logger.ts';
import { TelemetryCollector } from '../telemetry/report-delta.ts';
import type { FromWorker, ToWorker, WorkerData } from './messages.ts';
import { WorkerContext } from './proxy/context.ts';
import { ProxyStacks } from './proxy/stacks.ts';
import { authorizationActive } from '../config/inbound-policy-config.ts';

const data = workerData as WorkerData;
const port = parentPort;
if (port === null) throw new Error('worker-main.ts must run in a worker thread');

const log = new Logger(data.config.logLevel, data.config.logFormat, `worker-${data.index}`);
const ctx = new WorkerContext(data.config, log);
const proxy = new ProxyStacks(ctx);
const reply = (message: FromWorker): void => port.postMessage(message);
/** Created by the first telemetry collection, which also turns exact-latency recording on. */
let telemetry: TelemetryCollector | undefined;
if (data.config.destinationAddr !== undefined) {
  // Workers never call the control plane: the main thread does, and pushes destination states here.
  proxy.enableDiscovery({
    resolve: (authority) => reply({ type: 'resolve', authority }),
    release: (authority) => reply({ type: 'release', authority }),
  });
}
ctx.taps.sink = (events) => reply({ type: 'tap-events', events });
// Messages wait in the port's queue meanwhile: no connection is served before authorization is on.
if (authorizationActive(data.config.inboundPolicy)) await proxy.enableAuthorization();

function adopt(message: Extract<ToWorker, { type: 'connection' }>): void {
  let socket: net.Socket;
  try {
    // Both default to false for a socket built from a descriptor.
    socket = new net.Socket({ fd: message.fd, readable: true, writable: true, allowHalfOpen: true });
  } catch (error) {
    Atomics.sub(data.openConnections, data.index, 1);
    // A plain close(2): no FFI (koffi) is loaded in a worker for this.
    closeSync(message.fd);
    Atomics.add(data.adopted, data.index, 1);
    log.warn('could not adopt connection', { error: (error as Error).message });
    return;
  }
  // The descriptor is this thread's now (closed with it if it dies): the acceptor must not close it.
  Atomics.add(data.adopted, data.index, 1);
  socket.once('close', () => Atomics.sub(data.openConnections, data.index, 1));
  proxy.serve(socket, { direction: message.direction, originalDst: message.originalDst, listen: message.listen });
}

port.on('message', (message: ToWorker) => {
  switch (message.type) {
    case 'connection':
      adopt(message);
      return;
    case 'discovery':
      proxy.updateDestination(message.authority, message.state);
      return;
    case 'telemetry':
      telemetry ??= new TelemetryCollector(ctx.metrics.registry, () => ctx.tracker.flush());
      reply({ type: 'telemetry', id: message.id, delta: telemetry.collect() });
      return;
    case 'snapshot':
      reply({ type: 'snapshot', id: message.id, snapshot: ctx.snapshot() });
      return;
    case 'log-level':
      log.level = message.level;
      return;
    case 'identity':
      // Issue 8: the transport picks it up for TLS origination and termination.
      ctx.identity = message.identity;
      return;
    case 'inbound-policy':
      proxy.updateInboundPolicy(message.port, message.policy);
      return;
    case 'drain':
      void proxy.drain(message.graceMs).then(() => reply({ type: 'drained' }));
      return;
    case 'tap-install':
      ctx.taps.install(message.tap);
      return;
    case 'tap-remove':
      ctx.taps.remove(message.id);
      return;
    default:
      message satisfies never;
  }
});

reply({ type: 'ready' });
