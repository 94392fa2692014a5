// An HTTP/2 client the inbound policy does not authorize: the connection is served by the lean engine
// (server role) only to answer every request itself — 403, or for gRPC a trailers-only
// PERMISSION_DENIED — from the one HTTP/2 error table (h2/responses.ts). Request bodies are refunded and
// dropped. Loaded with the first refused HTTP/2 client.
import type net from 'node:net';
import { H2Connection } from '../../http2/connection.ts';
import type { H2Handler } from '../../http2/handler.ts';
import type { H2Stream } from '../../http2/stream.ts';
import { h2ErrorAnswer } from '../h2/responses.ts';
import type { Verdict } from './authorizer.ts';

function isGrpc(headers: readonly string[]): boolean {
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i] === 'content-type') return (headers[i + 1] ?? '').startsWith('application/grpc');
  }
  return false;
}

class Refusal implements H2Handler {
  readonly conn: H2Connection;
  private readonly verdict: Verdict;

  constructor(socket: net.Socket, verdict: Verdict) {
    this.verdict = verdict;
    this.conn = new H2Connection(socket, 'server', this);
  }

  onRequestHeaders(stream: H2Stream, headers: string[]): void {
    this.verdict.countHttp();
    const answer = h2ErrorAnswer('unauthorized', isGrpc(headers));
    if (answer.body === undefined) {
      this.conn.sendHeaders(stream, answer.headers, true);
    } else {
      this.conn.sendHeaders(stream, answer.headers, false);
      this.conn.sendData(stream, answer.body, true);
    }
  }

  onHeadersTooLarge(stream: H2Stream): void {
    this.onRequestHeaders(stream, []);
  }

  onData(stream: H2Stream, data: Buffer): void {
    this.conn.consumed(stream, data.length);
  }

  onResponseHeaders(): void {}
  onTrailers(): void {}
  onReset(): void {}
  onGoaway(): void {}
  onStreamWindow(): void {}
  onStreamCapacity(): void {}
  onPingAck(): void {}
  onClose(): void {}
}

export function refuseH2(socket: net.Socket, verdict: Verdict): void {
  new Refusal(socket, verdict);
  // Detection left the socket paused with its first bytes put back.
  socket.resume();
}
