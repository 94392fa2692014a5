// A gRPC client channel to one control-plane address on the proxy's own HTTP/2 engine, in place of
// @grpc/grpc-js + protobufjs (~25 MB of memory in every meshed proxy for a handful of calls). One HTTP/2
// connection at a time, made on first use through the `connect` function it was given (plain TCP today;
// mTLS to the controller plugs in there without a change here), replaced once it fails or the server
// sends GOAWAY. Unary and server-streaming calls (Destination, inbound policy, Identity, Telemetry.Report),
// and calls that stream their requests too (Telemetry.ReportStream: a message per report). Reconnecting is the callers' business (ControlStream's backoff, the telemetry interval): a
// failed connection fails its calls with UNAVAILABLE, and the next call makes a new one.
import type net from 'node:net';
import { ClientCall, type CallHost, type CallObserver, type CallOptions, type ClientCallHandle, type ClientStreamHandle, type MethodDescriptor } from './call.ts';
import { DEFAULT_MAX_MESSAGE_BYTES } from './framing.ts';
import { Link } from './link.ts';
import { GrpcError, Status, type GrpcStatus } from './status.ts';

export type { CallObserver, CallOptions, ClientCallHandle, ClientStreamHandle, MethodDescriptor } from './call.ts';

export interface ChannelOptions {
  /** Opens a new socket to the server (connected or connecting); TLS sockets are net.Sockets too. */
  readonly connect: () => net.Socket;
  /** `:authority` of every call (`host:port`, or the server's name under TLS). */
  readonly authority: string;
  /** `:scheme`: `https` when `connect` gives TLS sockets. */
  readonly scheme?: 'http' | 'https';
  /** Larger response messages end their call with RESOURCE_EXHAUSTED. */
  readonly maxReceiveMessageBytes?: number;
  readonly userAgent?: string;
}

export class GrpcChannel implements CallHost {
  readonly headers: readonly string[];
  readonly maxMessageBytes: number;
  private readonly connect: () => net.Socket;
  private readonly scheme: string;
  private link: Link | undefined;
  /** Retired links still carrying calls, closed by the engine once their streams end. */
  private readonly finishing = new Set<Link>();
  private closed = false;

  constructor(options: ChannelOptions) {
    this.connect = options.connect;
    this.scheme = options.scheme ?? 'http';
    this.maxMessageBytes = options.maxReceiveMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.headers = [
      ':authority', options.authority,
      'content-type', 'application/grpc',
      'te', 'trailers',
      'user-agent', options.userAgent ?? 'sluice-proxy',
    ];
  }

  /**
   * A server-streaming call: `observer.message` for each response, then `observer.status` once (OK when
   * the server ended it cleanly). Returns at once; problems are reported through the status.
   */
  serverStream<Req, Res>(method: MethodDescriptor<Req, Res>, request: Req, observer: CallObserver<Res>, options: CallOptions = {}): ClientCallHandle {
    const call = new ClientCall(this, method as MethodDescriptor<unknown, unknown>, request, observer as CallObserver<unknown>, options);
    call.start();
    return call;
  }

  /**
   * A call that streams requests both ways (bidirectional, or client-streaming): write requests on the
   * handle as they come, end it when done; `observer` as for serverStream. Requests written before the
   * stream is open wait for it. A refused stream is not sent again here (its requests are the caller's
   * to resend, on a new call).
   */
  bidiStream<Req, Res>(method: MethodDescriptor<Req, Res>, observer: CallObserver<Res>, options: CallOptions = {}): ClientStreamHandle<Req> {
    const call = new ClientCall(this, method as MethodDescriptor<unknown, unknown>, undefined, observer as CallObserver<unknown>, options, true);
    call.start();
    return call;
  }

  /** A unary call: the response, or a GrpcError with the status (a response count other than one is INTERNAL). */
  unary<Req, Res>(method: MethodDescriptor<Req, Res>, request: Req, options: CallOptions = {}): Promise<Res> {
    return new Promise<Res>((resolve, reject) => {
      const responses: Res[] = [];
      this.serverStream(
        method,
        request,
        {
          message: (message) => {
            responses.push(message);
          },
          status: (status: GrpcStatus) => {
            if (status.code !== Status.OK) reject(new GrpcError(status));
            else if (responses.length !== 1) reject(new GrpcError({ code: Status.INTERNAL, details: `${responses.length} responses to a unary call` }));
            else resolve(responses[0] as Res);
          },
        },
        options,
      );
    });
  }

  /** Ends every call (CANCELLED) and the connection; later calls fail with UNAVAILABLE. */
  close(): void {
    this.closed = true;
    const links = [...this.finishing, ...(this.link === undefined ? [] : [this.link])];
    this.link = undefined;
    this.finishing.clear();
    for (const link of links) link.conn.close();
  }

  /** @internal CallHost: a connection for `call`, made now if there is none usable. */
  attach(call: ClientCall): void {
    if (this.closed) return call.fail({ code: Status.UNAVAILABLE, details: 'the channel is closed' });
    if (this.link === undefined || this.link.retired) {
      let socket: net.Socket;
      try {
        socket = this.connect();
      } catch (error) {
        return call.fail({ code: Status.UNAVAILABLE, details: `cannot connect: ${(error as Error).message}` });
      }
      this.link = new Link(
        socket,
        this.scheme,
        (link) => this.forget(link),
        (waiting) => {
          if (!waiting.done) this.attach(waiting);
        },
      );
    }
    this.link.admit(call);
  }

  /** @internal CallHost */
  retire(link: Link): void {
    link.retire();
  }

  private forget(link: Link): void {
    if (this.link === link) this.link = undefined;
    if (link.conn.closed) this.finishing.delete(link);
    else if (!this.closed) {
      this.finishing.add(link);
      link.conn.socket.once('close', () => this.finishing.delete(link));
    }
  }
}
