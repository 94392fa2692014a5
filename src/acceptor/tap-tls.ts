// The Tap port under identity: mutual TLS in front of the Tap server, so that only the controller's
// tap relay can watch this pod's requests (Linkerd's proxy serves tap to SLUICE_PROXY_TAP_SVC_NAME's
// twin, LINKERD2_PROXY_TAP_SVC_NAME, only).
//
//   - The server side of the handshake uses the proxy's current certificate; each renewal replaces the
//     TLS context for the connections that follow (setSecureContext), without a restart.
//   - A client certificate is required and must chain to the trust anchors: a client that does not
//     speak TLS fails the handshake; one without a certificate, or with an untrusted or expired one, is
//     closed as soon as the handshake ends, before a byte of HTTP/2 is read.
//   - A client whose chain is good but whose identity is not the controller's is let through to the Tap
//     server, which answers its calls PERMISSION_DENIED naming both identities (tap-server.ts): a
//     misconfigured name is then told, not left guessing at a closed connection.
//   - Before the proxy holds its first certificate nothing is served: connections are closed.
// Every refusal is counted by reason (`tap_connections_refused_total`) and logged once per peer address
// and reason, so that a scanner cannot flood the log.
//
// Loaded (with node:tls) only when identity is on: a proxy without identity serves tap in plaintext
// and never loads TLS (the memory diet, memory-diet.test.ts).
import type net from 'node:net';
import tls from 'node:tls';
import type { Logger } from '../log/logger.ts';
import { labels, type FamilySnapshot } from '../telemetry/metrics.ts';
import { identityOf } from '../workers/tls/peer-identity.ts';
import type { LocalIdentity } from '../workers/transport/local-identity.ts';
import type { TapTransport } from './tap-listener.ts';

/** Why a connection to the Tap port was refused; the `reason` label of tap_connections_refused_total. */
export type TapRefusal =
  | 'no_certificate_yet'
  | 'not_tls'
  | 'no_client_certificate'
  | 'untrusted_client_certificate'
  | 'wrong_identity'
  | 'handshake_failed';

const REFUSALS: readonly TapRefusal[] = ['no_certificate_yet', 'not_tls', 'no_client_certificate', 'untrusted_client_certificate', 'wrong_identity', 'handshake_failed'];

/** Peers remembered as already logged; past it the memory starts over (a peer may then be logged again). */
const MAX_LOGGED_PEERS = 1024;
const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;

/** The refusal an OpenSSL / node:tls handshake error stands for. Pure. */
export function refusalOf(error: { code?: string | undefined; message?: string }): TapRefusal {
  const code = error.code ?? '';
  if (/WRONG_VERSION_NUMBER|HTTP_REQUEST|HTTPS_PROXY_REQUEST|PACKET_LENGTH_TOO_LONG|UNKNOWN_PROTOCOL|RECORD_LAYER_FAILURE/.test(code)) return 'not_tls';
  if (/PEER_DID_NOT_RETURN_A_CERTIFICATE|CERTIFICATE_REQUIRED/.test(code)) return 'no_client_certificate';
  if (/CERTIFICATE_VERIFY_FAILED|CERT_|UNKNOWN_CA|BAD_CERTIFICATE/.test(code)) return 'untrusted_client_certificate';
  return 'handshake_failed';
}

export class TapTls implements TapTransport {
  private readonly log: Logger;
  /** The controller's identity: the only client the Tap server serves. */
  readonly clientName: string;
  private readonly handshakeTimeoutMs: number;
  private server: tls.Server | undefined;
  private readonly refused = new Map<TapRefusal, number>(REFUSALS.map((r) => [r, 0]));
  private readonly logged = new Set<string>();
  /** Connections in their handshake, by 4-tuple (node:tls reports the secured socket on the server only). */
  private readonly pending = new Map<string, (connection: net.Socket) => void>();

  constructor(log: Logger, clientName: string, handshakeTimeoutMs = DEFAULT_HANDSHAKE_TIMEOUT_MS) {
    this.log = log;
    this.clientName = clientName.toLowerCase();
    this.handshakeTimeoutMs = handshakeTimeoutMs;
  }

  /** The proxy's certificate, first or renewed: connections from now on are served with it. */
  setIdentity(identity: LocalIdentity): void {
    const context = { key: identity.keyPem, cert: identity.certChainPem, ca: identity.trustAnchorsPem };
    if (this.server !== undefined) {
      this.server.setSecureContext(context);
      return;
    }
    this.server = tls.createServer({
      ...context,
      requestCert: true,
      // The verdict is ours, in secured(): node:tls would close an unverified client without saying why
      // (its error is a bare ECONNRESET), and the reason is what the count and the log need.
      rejectUnauthorized: false,
      // gRPC: the Tap server's HTTP/2 session needs h2 negotiated on a TLS socket.
      ALPNProtocols: ['h2'],
      minVersion: 'TLSv1.3',
      handshakeTimeout: this.handshakeTimeoutMs,
    });
    this.server.on('tlsClientError', (error: NodeJS.ErrnoException, secure: tls.TLSSocket) => {
      this.pending.delete(fourTuple(secure));
      this.refuse(refusalOf(error), secure.remoteAddress ?? '?', error.code ?? error.message);
      secure.destroy();
    });
    this.server.on('secureConnection', (secure: tls.TLSSocket) => this.secured(secure));
  }

  accept(socket: net.Socket, serve: (connection: net.Socket) => void): void {
    const server = this.server;
    if (server === undefined) {
      this.refuse('no_certificate_yet', socket.remoteAddress ?? '?', 'the proxy holds no certificate yet');
      socket.destroy();
      return;
    }
    const key = fourTuple(socket);
    this.pending.set(key, serve);
    socket.once('close', () => this.pending.delete(key));
    server.emit('connection', socket);
  }

  metrics(): FamilySnapshot[] {
    return [
      {
        name: 'tap_connections_refused_total',
        help: 'Connections to the Tap port refused because the client is not the controller (mutual TLS), by reason.',
        kind: 'counter',
        series: REFUSALS.map((reason) => [labels({ reason }), this.refused.get(reason) ?? 0] as const),
      },
    ];
  }

  close(): void {
    this.server?.close();
  }

  private secured(secure: tls.TLSSocket): void {
    const key = fourTuple(secure);
    const serve = this.pending.get(key);
    this.pending.delete(key);
    if (serve === undefined) return void secure.destroy();
    const peer = secure.remoteAddress ?? '?';
    const certificate = secure.getPeerCertificate();
    if (certificate === null || Object.keys(certificate).length === 0) {
      this.refuse('no_client_certificate', peer, 'the client presented no certificate');
      return void secure.destroy();
    }
    if (!secure.authorized) {
      this.refuse('untrusted_client_certificate', peer, String(secure.authorizationError ?? 'CERT_REJECTED'));
      return void secure.destroy();
    }
    const clientId = identityOf(certificate.subjectaltname);
    if (clientId !== this.clientName) {
      this.refuse('wrong_identity', secure.remoteAddress ?? '?', `client identity ${clientId ?? '(none)'}, expected ${this.clientName}`);
    }
    serve(secure);
  }

  private refuse(reason: TapRefusal, peer: string, detail: string): void {
    this.refused.set(reason, (this.refused.get(reason) ?? 0) + 1);
    const key = `${peer}|${reason}`;
    if (this.logged.has(key)) return;
    if (this.logged.size >= MAX_LOGGED_PEERS) this.logged.clear();
    this.logged.add(key);
    this.log.warn('tap connection refused (logged once per peer and reason)', { peer, reason, detail });
  }
}

/** A connection's 4-tuple: the same before and after node:tls takes its handle over. */
function fourTuple(socket: net.Socket): string {
  return `${socket.localAddress}|${socket.localPort}|${socket.remoteAddress}|${socket.remotePort}`;
}
