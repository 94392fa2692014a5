// The proxy's identity put to work on the mesh hop (issue 8): originating mutual TLS to endpoints the
// Destination service names an identity for, and terminating mutual TLS addressed to our own identity.
//
// One MeshCredentials per certificate the proxy holds, built once when the certificate arrives: the
// client secure context and the server context are made once (parsing keys and chains per connection
// would cost more than the handshake), and TLS session tickets are kept per endpoint so that a new
// connection to a peer already met resumes instead of doing the full handshake.
//
// node:tls (and with it OpenSSL's JS side) is loaded through process.getBuiltinModule the first time a
// MeshCredentials is built, never at import: a proxy without an identity serves plaintext and pays
// nothing for TLS (the memory diet in docs/performance.md).
import type net from 'node:net';
import type tls from 'node:tls';
import { MESH_TRANSPORT_ALPN, type LocalIdentity } from '../transport/local-identity.ts';
import { checkPeerIdentity, identityOf } from './peer-identity.ts';

type TlsModule = typeof tls;

/** The identity an endpoint must prove, and the SNI to ask for it by (Destination's TlsIdentity). */
export interface PeerIdentity {
  readonly identity: string;
  readonly serverName: string;
}

/** What terminating a client's TLS established. */
export interface TerminatedTls {
  /** The decrypted stream. */
  readonly socket: tls.TLSSocket;
  /** The client's verified identity; undefined when it presented no certificate (unauthenticated). */
  readonly clientId: string | undefined;
}

/** Session tickets kept per credentials; past it the oldest peer's is forgotten. */
const MAX_SESSIONS = 1024;
const ALPN = [MESH_TRANSPORT_ALPN];

/** Sockets wait this long for their handshake when the caller gives no bound. */
const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;

type Pending = { resolve: (done: TerminatedTls) => void; reject: (error: Error) => void; timer: NodeJS.Timeout };

export class MeshCredentials {
  readonly name: string;
  readonly identity: LocalIdentity;
  private readonly tls: TlsModule;
  private readonly clientContext: tls.SecureContext;
  private readonly handshakeTimeoutMs: number;
  private server: tls.Server | undefined;
  /** Connections whose handshake the server is running, by their 4-tuple (the server's events carry only the TLS socket). */
  private readonly pending = new Map<string, Pending>();
  /** The latest session ticket per `identity|host:port`; Map order is insertion order, oldest first. */
  private readonly sessions = new Map<string, Buffer>();

  /** Throws (node:tls's error) when the key or a certificate does not parse. */
  constructor(identity: LocalIdentity, handshakeTimeoutMs = DEFAULT_HANDSHAKE_TIMEOUT_MS) {
    this.identity = identity;
    this.name = identity.name.toLowerCase();
    this.handshakeTimeoutMs = handshakeTimeoutMs;
    this.tls = process.getBuiltinModule('node:tls');
    this.clientContext = this.tls.createSecureContext({
      key: identity.keyPem,
      cert: identity.certChainPem,
      ca: identity.trustAnchorsPem,
      minVersion: 'TLSv1.3',
    });
  }

  /**
   * A TLS connection to `target`, which must prove `peer.identity`: its chain must end in our trust
   * anchors (node:tls's own verification) and name exactly that identity (checkServerIdentity). Our
   * certificate goes as the client's. Failures surface as the socket's error, with OpenSSL's code
   * (CERT_HAS_EXPIRED, UNABLE_TO_VERIFY_LEAF_SIGNATURE…) or ERR_TLS_CERT_ALTNAME_INVALID (core/errors.ts
   * maps them). 'secureConnect' means the peer is verified.
   */
  connect(target: { host: string; port: number }, peer: PeerIdentity, allowHalfOpen: boolean): tls.TLSSocket {
    const key = `${peer.identity}|${target.host}:${target.port}`;
    const options: tls.ConnectionOptions & { allowHalfOpen: boolean } = {
      host: target.host,
      port: target.port,
      // Not in @types/node's ConnectionOptions, but node:tls passes it to the TLSSocket (opaque TCP half-closes).
      allowHalfOpen,
      servername: peer.serverName,
      secureContext: this.clientContext,
      ALPNProtocols: ALPN,
      minVersion: 'TLSv1.3',
      session: this.sessions.get(key),
      checkServerIdentity: (_host, cert) => checkPeerIdentity(peer.identity, cert.subjectaltname),
    };
    const socket = this.tls.connect(options);
    socket.setNoDelay(true);
    socket.on('session', (session: Buffer) => this.remember(key, session));
    // A ticket that led to a failure is not offered again.
    socket.once('error', () => this.sessions.delete(key));
    return socket;
  }

  /**
   * Runs the server side of the handshake on `socket` (a connection whose ClientHello, put back on it,
   * asked for our identity): our chain as the server's, a client certificate requested and, when one is
   * presented, verified against the anchors. A client without one is let in as unauthenticated (policy
   * decides later); one whose certificate does not verify is refused.
   */
  terminate(socket: net.Socket): Promise<TerminatedTls> {
    const server = (this.server ??= this.createServer());
    const key = fourTuple(socket);
    return new Promise((resolve, reject) => {
      // The server's handshake timeout normally fires first; this only frees the entry if nothing does.
      const timer = setTimeout(() => this.settle(key, undefined, new Error('TLS handshake did not finish')), this.handshakeTimeoutMs + 1000);
      timer.unref();
      this.pending.set(key, { resolve, reject, timer });
      // A client that leaves mid-handshake (e.g. after refusing our certificate) raises no server event.
      socket.once('close', () => this.settle(key, undefined, Object.assign(new Error('connection closed during the TLS handshake'), { code: 'ECONNRESET' })));
      server.emit('connection', socket);
    });
  }

  private createServer(): tls.Server {
    // A server's options, not a SecureContext: tls.Server builds its own context from them (it ignores
    // a `secureContext` option and would then have no key to sign with); built once per identity.
    const server = this.tls.createServer({
      key: this.identity.keyPem,
      cert: this.identity.certChainPem,
      ca: this.identity.trustAnchorsPem,
      requestCert: true,
      rejectUnauthorized: false,
      ALPNProtocols: ALPN,
      minVersion: 'TLSv1.3',
      handshakeTimeout: this.handshakeTimeoutMs,
    });
    server.on('secureConnection', (secure: tls.TLSSocket) => this.secured(secure));
    server.on('tlsClientError', (error: Error, secure: tls.TLSSocket) => {
      this.settle(fourTuple(secure), undefined, error);
      secure.destroy();
    });
    return server;
  }

  private secured(secure: tls.TLSSocket): void {
    const key = fourTuple(secure);
    const cert = secure.getPeerCertificate();
    const presented = cert !== null && Object.keys(cert).length > 0;
    if (!presented) return this.settle(key, { socket: secure, clientId: undefined });
    if (!secure.authorized) {
      const code = String(secure.authorizationError ?? 'CERT_REJECTED');
      secure.destroy();
      return this.settle(key, undefined, Object.assign(new Error(`client certificate refused: ${code}`), { code }));
    }
    const clientId = identityOf(cert.subjectaltname);
    if (clientId === undefined) {
      secure.destroy();
      return this.settle(key, undefined, Object.assign(new Error('client certificate names no single DNS identity'), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' }));
    }
    this.settle(key, { socket: secure, clientId });
  }

  private settle(key: string, done: TerminatedTls | undefined, error?: Error): void {
    const pending = this.pending.get(key);
    if (pending === undefined) return;
    this.pending.delete(key);
    clearTimeout(pending.timer);
    if (done !== undefined) pending.resolve(done);
    else pending.reject(error ?? new Error('TLS handshake failed'));
  }

  private remember(key: string, session: Buffer): void {
    this.sessions.delete(key);
    this.sessions.set(key, session);
    if (this.sessions.size > MAX_SESSIONS) {
      const oldest = this.sessions.keys().next().value;
      if (oldest !== undefined) this.sessions.delete(oldest);
    }
  }

  /** Session tickets held (for tests and the admin page). */
  get sessionCount(): number {
    return this.sessions.size;
  }
}

/** A connection's 4-tuple: the same before and after node:tls takes its handle over. */
function fourTuple(socket: net.Socket): string {
  return `${socket.localAddress}|${socket.localPort}|${socket.remoteAddress}|${socket.remotePort}`;
}
