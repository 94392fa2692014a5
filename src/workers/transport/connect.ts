// Transport-level bookkeeping for every socket a thread holds: open/close counts, bytes as they flow
// (folded in when metrics are read, not per chunk), and connecting upstream with a timeout — in plain
// TCP, or in mutual TLS when the endpoint has a mesh identity and the proxy holds one of its own.
import net from 'node:net';
import type { HostPort } from '../../config/parse.ts';
import type { TcpStats } from '../../telemetry/proxy-metrics.ts';
import { ProxyError } from '../../core/errors.ts';
import type { MeshCredentials, PeerIdentity } from '../tls/mesh-credentials.ts';

interface Tracked {
  stats: TcpStats;
  read: number;
  written: number;
  /** Not yet counted in tcp_open_total: its labels may still change (relabel). */
  uncounted: boolean;
}

export class SocketTracker {
  private readonly sockets = new Map<net.Socket, Tracked>();
  private idleWaiters: Array<() => void> = [];

  get size(): number {
    return this.sockets.size;
  }

  /**
   * Counts the socket as open until it closes; `errno` on close is the error code, or '' when clean.
   * `provisional`: the labels are not final yet (an inbound connection that may turn out to be mesh TLS);
   * it is counted as opened once confirm() or relabel() says under which, or at the latest when it closes.
   */
  track(socket: net.Socket, stats: TcpStats, provisional = false): void {
    const entry: Tracked = { stats, read: 0, written: 0, uncounted: provisional };
    this.sockets.set(socket, entry);
    if (!provisional) stats.opened.inc();
    stats.open.inc();
    let errno = '';
    socket.once('error', (error: NodeJS.ErrnoException) => {
      errno = error.code ?? 'EIO';
    });
    socket.once('close', () => {
      this.account(socket, entry);
      this.sockets.delete(socket);
      this.confirmEntry(entry);
      entry.stats.open.inc(-1);
      entry.stats.closed(errno);
      if (this.sockets.size === 0) this.notifyIdle();
    });
  }

  /** A provisionally tracked socket keeps its labels: it counts as opened under them now. */
  confirm(socket: net.Socket): void {
    const entry = this.sockets.get(socket);
    if (entry !== undefined) this.confirmEntry(entry);
  }

  /** A provisionally tracked socket's final labels (the client mesh TLS verified): counted under `stats` from now on. */
  relabel(socket: net.Socket, stats: TcpStats): void {
    const entry = this.sockets.get(socket);
    if (entry === undefined || entry.stats === stats) return;
    this.account(socket, entry);
    entry.stats.open.inc(-1);
    entry.stats = stats;
    stats.open.inc();
    this.confirmEntry(entry);
  }

  private confirmEntry(entry: Tracked): void {
    if (!entry.uncounted) return;
    entry.uncounted = false;
    entry.stats.opened.inc();
  }

  /** Folds the bytes moved since the last call into the counters. */
  flush(): void {
    for (const [socket, entry] of this.sockets) this.account(socket, entry);
  }

  /** Resolves once no tracked socket remains open. */
  whenIdle(): Promise<void> {
    if (this.sockets.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  destroyAll(): void {
    for (const socket of this.sockets.keys()) socket.destroy();
  }

  private account(socket: net.Socket, entry: Tracked): void {
    const read = socket.bytesRead;
    const written = socket.bytesWritten;
    entry.stats.readBytes.inc(read - entry.read);
    entry.stats.writeBytes.inc(written - entry.written);
    entry.read = read;
    entry.written = written;
  }

  private notifyIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

/** Mesh TLS for one upstream connection: our credentials, and who the endpoint must prove to be. */
export interface UpstreamTls {
  readonly credentials: MeshCredentials;
  readonly peer: PeerIdentity;
}

/**
 * Opens a connection to an upstream: plain TCP, or mutual TLS when `tls` is given (mesh-credentials.ts).
 * If it is not established within `timeoutMs` — for TLS, the handshake included — the socket is
 * destroyed with a `connect_timeout` ProxyError; other failures surface as the socket's own error
 * (TLS verification failures with OpenSSL's codes, which classifyUpstreamError maps). Callers wait for
 * {@link readyEvent} before counting the connection as made.
 */
export function connectUpstream(target: HostPort, timeoutMs: number, allowHalfOpen = false, tls?: UpstreamTls): net.Socket {
  const socket =
    tls === undefined
      ? net.connect({ host: target.host, port: target.port, allowHalfOpen, noDelay: true })
      : tls.credentials.connect(target, tls.peer, allowHalfOpen);
  const timer = setTimeout(() => {
    socket.destroy(new ProxyError('connect_timeout', `no connection to ${target.host}:${target.port} after ${timeoutMs} ms`));
  }, timeoutMs);
  const clear = (): void => clearTimeout(timer);
  socket.once(readyEvent(socket), clear);
  socket.once('close', clear);
  return socket;
}

/** The event after which an upstream socket is usable: 'secureConnect' once a TLS peer is verified. */
export function readyEvent(socket: net.Socket): 'connect' | 'secureConnect' {
  return (socket as { encrypted?: boolean }).encrypted === true ? 'secureConnect' : 'connect';
}
