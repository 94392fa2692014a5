// The proxy's Tap server: `io.linkerd.proxy.tap.Tap/Observe` (gRPC) on SLUICE_PROXY_TAP_LISTEN_ADDR
// (Linkerd's port 4190). Runs on the main thread. Each Observe call becomes a tap installed in every
// serving thread; their events come back here and are streamed to the caller.
//
// - `limit` (when not 0) is the number of requests the call observes in the whole process: threads
//   claim them through a shared counter, and the call ends once that many have completed.
// - A caller that reads slowly does not make the proxy buffer without bound: past MAX_QUEUED events
//   waiting to be sent, events are dropped and counted (`tap_events_dropped_total`).
// - A caller that goes away uninstalls its tap.
// - With identity on, connections arrive over mutual TLS (tap-tls.ts) and only the controller's identity
//   (SLUICE_PROXY_TAP_SVC_NAME) is served: any other verified caller gets PERMISSION_DENIED naming both.
import { randomInt } from 'node:crypto';
import type net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { tapServiceDefinition } from '../api/tap.ts';
import type { Logger } from '../log/logger.ts';
import { identityOf } from '../workers/tls/peer-identity.ts';
import type { WorkerContext } from '../workers/proxy/context.ts';
import { InvalidTapMatch, compileMatch, type ObserveRequestMessage } from '../workers/tap/match.ts';
import type { TapInstall, TapOut } from '../workers/tap/registry.ts';
import type { TapService } from './tap-listener.ts';
import type { TapCounts } from './tap-metrics.ts';
import type { WorkerPool } from './worker-pool.ts';

/** Events waiting to be written to one caller before new ones are dropped. */
export const MAX_QUEUED = 1000;

/** The serving threads, as the Tap server sees them. */
interface Threads {
  readonly count: number;
  install(thread: number, tap: TapInstall): void;
  remove(thread: number, id: number): void;
}

interface Session {
  readonly tap: TapInstall;
  readonly call: grpc.ServerWritableStream<ObserveRequestMessage, object>;
  readonly peer: string;
  /** Streams begun and not yet ended, per thread. */
  readonly open: Map<number, Set<number>>;
  completed: number;
  dropped: number;
  closed: boolean;
}

export class TapServer implements TapService {
  private readonly log: Logger;
  private readonly threads: Threads;
  private readonly server = new grpc.Server();
  private readonly sessions = new Map<number, Session>();
  private nextId = 1;
  /** StreamId.base: random per process. */
  private readonly base = randomInt(0, 2 ** 32);
  /** StreamId.stream: one counter for the whole process, shared with every thread. */
  private readonly streams = new BigInt64Array(new SharedArrayBuffer(8));
  private observeTotal = 0;
  private eventsTotal = 0;
  private droppedTotal = 0;
  private injector: grpc.ConnectionInjector | undefined;
  /** The only caller identity served (identity on), or undefined: every caller (plaintext, identity off). */
  private readonly requiredClient: string | undefined;

  constructor(log: Logger, threads: Threads, requiredClient?: string) {
    this.log = log;
    this.threads = threads;
    this.requiredClient = requiredClient?.toLowerCase();
    this.server.addService(tapServiceDefinition(), {
      Observe: (call: grpc.ServerWritableStream<ObserveRequestMessage, object>) => this.observe(call),
    });
  }

  /** A Tap server for worker threads. */
  static forPool(log: Logger, pool: WorkerPool, requiredClient?: string): TapServer {
    const server = new TapServer(
      log,
      {
        count: pool.size,
        install: (thread, tap) => pool.postTo(thread, { type: 'tap-install', tap }),
        remove: (thread, id) => pool.postTo(thread, { type: 'tap-remove', id }),
      },
      requiredClient,
    );
    pool.tapHooks = {
      events: (worker, events) => server.onEvents(worker, events),
      replaced: (worker) => server.onThreadReplaced(worker),
    };
    return server;
  }

  /** A Tap server for SLUICE_PROXY_WORKERS=0, where the main thread serves connections itself. */
  static forContext(log: Logger, ctx: WorkerContext, requiredClient?: string): TapServer {
    const server = new TapServer(
      log,
      {
        count: 1,
        install: (_, tap) => ctx.taps.install(tap),
        remove: (_, id) => ctx.taps.remove(id),
      },
      requiredClient,
    );
    ctx.taps.sink = (events) => server.onEvents(0, events);
    return server;
  }

  /** Serves one connection accepted on the Tap port (tap-listener.ts). */
  inject(socket: net.Socket): void {
    this.injector ??= this.server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
    this.injector.injectConnection(socket);
    // Accepted paused (nothing may be read before the server has the socket); it reads from here on.
    socket.resume();
  }

  /** Ends every call (its events so far are still delivered) and stops listening. */
  close(): void {
    for (const session of [...this.sessions.values()]) this.finish(session, 'proxy shutting down');
    this.server.tryShutdown(() => {});
    setTimeout(() => this.server.forceShutdown(), 1000).unref();
  }

  counts(): TapCounts {
    return { observeTotal: this.observeTotal, active: this.sessions.size, eventsTotal: this.eventsTotal, droppedTotal: this.droppedTotal };
  }

  /** Why `call`'s caller may not tap, or undefined when it may. */
  private refusal(call: grpc.ServerWritableStream<ObserveRequestMessage, object>): string | undefined {
    if (this.requiredClient === undefined) return undefined;
    // Set only for a TLS connection whose client certificate verified (tap-tls.ts refuses the others).
    const certificate = call.getAuthContext().sslPeerCertificate;
    const caller = certificate === undefined ? undefined : identityOf(certificate.subjectaltname);
    if (caller === this.requiredClient) return undefined;
    return `tap is served only to ${this.requiredClient} (SLUICE_PROXY_TAP_SVC_NAME); this caller is ${caller ?? 'not authenticated'}`;
  }

  private observe(call: grpc.ServerWritableStream<ObserveRequestMessage, object>): void {
    const refused = this.refusal(call);
    if (refused !== undefined) {
      this.log.debug('tap call refused', { peer: call.getPeer(), reason: refused });
      call.emit('error', { code: grpc.status.PERMISSION_DENIED, details: refused });
      return;
    }
    const request = call.request;
    let tap: TapInstall;
    try {
      tap = {
        id: this.nextId++,
        match: compileMatch(request.match),
        limit: request.limit ?? 0,
        claimed: new Int32Array(new SharedArrayBuffer(4)),
        base: this.base,
        streams: this.streams,
        headers: request.extract?.http?.headers !== undefined && request.extract.http.headers !== null,
      };
    } catch (error) {
      if (!(error instanceof InvalidTapMatch)) throw error;
      call.emit('error', { code: grpc.status.INVALID_ARGUMENT, details: error.message });
      return;
    }
    const session: Session = { tap, call, peer: call.getPeer(), open: new Map(), completed: 0, dropped: 0, closed: false };
    this.sessions.set(tap.id, session);
    this.observeTotal++;
    // The caller went away (cancelled, deadline, connection lost): the tap goes with it.
    call.on('cancelled', () => this.finish(session, 'cancelled by the caller'));
    call.on('error', () => this.finish(session, 'call failed'));
    for (let thread = 0; thread < this.threads.count; thread++) this.threads.install(thread, tap);
    this.log.debug('tap started', { id: tap.id, peer: session.peer, limit: tap.limit, headers: tap.headers });
  }

  onEvents(thread: number, events: readonly TapOut[]): void {
    const touched = new Set<Session>();
    for (const out of events) {
      const session = this.sessions.get(out.tap);
      if (session === undefined || session.closed) continue;
      let open = session.open.get(thread);
      if (open === undefined) {
        open = new Set();
        session.open.set(thread, open);
      }
      if (out.done) {
        if (open.delete(out.stream)) session.completed++;
      } else {
        open.add(out.stream);
      }
      this.deliver(session, out.event);
      touched.add(session);
    }
    for (const session of touched) this.checkLimit(session);
  }

  /** A worker died: its open streams will never end, so they count as completed; its successor gets the taps. */
  onThreadReplaced(thread: number): void {
    for (const session of [...this.sessions.values()]) {
      const open = session.open.get(thread);
      if (open !== undefined) {
        session.completed += open.size;
        open.clear();
      }
      this.threads.install(thread, session.tap);
      this.checkLimit(session);
    }
  }

  private deliver(session: Session, event: object): void {
    const { call } = session;
    if (call.writableLength >= MAX_QUEUED) {
      if (session.dropped === 0) this.log.info('tap caller is reading too slowly; dropping events', { id: session.tap.id, peer: session.peer });
      session.dropped++;
      this.droppedTotal++;
      return;
    }
    this.eventsTotal++;
    call.write(event);
  }

  private checkLimit(session: Session): void {
    if (session.tap.limit > 0 && session.completed >= session.tap.limit) this.finish(session, 'limit reached');
  }

  private finish(session: Session, reason: string): void {
    if (session.closed) return;
    session.closed = true;
    this.sessions.delete(session.tap.id);
    for (let thread = 0; thread < this.threads.count; thread++) this.threads.remove(thread, session.tap.id);
    this.log.debug('tap ended', { id: session.tap.id, reason, completed: session.completed, dropped: session.dropped });
    // Ends the call with OK after whatever is still queued; a no-op if the call is already gone.
    if (!session.call.destroyed && !session.call.writableEnded) session.call.end();
  }
}
