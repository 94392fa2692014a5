// One HTTP/2 connection of a gRPC channel (client role on the lean engine): it routes the engine's
// events to the calls on it, opens the streams of calls that waited for capacity (the server's
// SETTINGS_MAX_CONCURRENT_STREAMS), and when it fails, tells every call on it why — UNAVAILABLE with
// the socket's own error (connection refused, reset, TLS failure), so a caller can log the cause.
import type net from 'node:net';
import { H2Connection } from '../../workers/http2/connection.ts';
import type { H2Handler } from '../../workers/http2/handler.ts';
import type { H2Stream } from '../../workers/http2/stream.ts';
import type { ClientCall } from './call.ts';
import { Status } from './status.ts';

/** Calls waiting for a stream on one connection before new ones are refused (RESOURCE_EXHAUSTED). */
export const MAX_WAITING_CALLS = 1000;

export class Link implements H2Handler {
  readonly conn: H2Connection;
  readonly scheme: string;
  /** No new calls: GOAWAY received, a stream refused, or closed. */
  retired = false;
  private error: Error | undefined;
  private readonly waiting: ClientCall[] = [];
  private readonly onRetired: (link: Link) => void;
  private readonly reattach: (call: ClientCall) => void;

  /** `onRetired`: no new calls here; `reattach`: a call that never got a stream here needs another connection. */
  constructor(socket: net.Socket, scheme: string, onRetired: (link: Link) => void, reattach: (call: ClientCall) => void) {
    this.scheme = scheme;
    this.onRetired = onRetired;
    this.reattach = reattach;
    // Before the engine's own listener, so the cause is known when the streams are reset.
    socket.on('error', (error) => {
      this.error ??= error;
    });
    this.conn = new H2Connection(socket, 'client', this);
  }

  /** Opens a stream for `call` now, or once the server allows one more. */
  admit(call: ClientCall): void {
    if (this.waiting.length === 0 && this.conn.canOpenStream()) return call.open(this);
    if (this.waiting.length >= MAX_WAITING_CALLS) {
      return call.fail({ code: Status.RESOURCE_EXHAUSTED, details: `${MAX_WAITING_CALLS} calls already wait for a stream to the control plane` });
    }
    this.waiting.push(call);
  }

  /** A call ended: it no longer waits; a retired connection closes once its last stream is done. */
  detach(call: ClientCall): void {
    const i = this.waiting.indexOf(call);
    if (i >= 0) this.waiting.splice(i, 1);
    // Deferred: the engine takes the stream out of its table after the event that ended the call.
    if (this.retired) queueMicrotask(() => this.closeIfIdle());
  }

  retire(): void {
    if (this.retired) return;
    this.retired = true;
    this.onRetired(this);
    this.closeIfIdle();
  }

  private closeIfIdle(): void {
    if (this.conn.streamCount === 0 && this.waiting.length === 0 && !this.conn.closed) this.conn.close();
  }

  /** Why the connection is gone, for the calls it carried. */
  lostReason(): string {
    return this.error?.message ?? 'connection to the control plane closed';
  }

  onStreamCapacity(): void {
    while (this.waiting.length > 0 && this.conn.canOpenStream()) (this.waiting.shift() as ClientCall).open(this);
  }

  onResponseHeaders(stream: H2Stream, headers: string[], status: number, endStream: boolean): void {
    (stream.ctx as ClientCall).onHeaders(headers, status, endStream);
  }

  onData(stream: H2Stream, data: Buffer, endStream: boolean): void {
    (stream.ctx as ClientCall).onData(data, endStream);
  }

  onTrailers(stream: H2Stream, trailers: string[]): void {
    (stream.ctx as ClientCall).onTrailers(trailers);
  }

  onReset(stream: H2Stream, code: number): void {
    (stream.ctx as ClientCall).onReset(code, this.conn.closed ? this.lostReason() : undefined);
  }

  onHeadersTooLarge(stream: H2Stream): void {
    this.conn.reset(stream);
    (stream.ctx as ClientCall).fail({ code: Status.RESOURCE_EXHAUSTED, details: 'response headers larger than we accept' });
  }

  onGoaway(): void {
    // Calls above its last stream id were refused first (and retried elsewhere); the rest finish here.
    // Calls still waiting for a stream were never sent: they go to a new connection.
    const waiting = this.waiting.splice(0);
    this.retire();
    for (const call of waiting) queueMicrotask(() => this.reattach(call));
  }

  onClose(error: Error | null): void {
    if (error !== null) this.error ??= error;
    this.retire();
    for (const call of this.waiting.splice(0)) call.fail({ code: Status.UNAVAILABLE, details: this.lostReason() });
  }

  onStreamWindow(): void {}
  onRequestHeaders(): void {}
  onPingAck(): void {}
}
