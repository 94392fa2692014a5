// The fault matrix's 'mesh hop' topology: a real outbound proxy process holding an identity that the real
// controller issued (Identity service, issuer files, a local-mesh token), resolving one service through a
// Destination service (test/support/fake-destination.ts) to ONE endpoint that Destination marks as a
// meshed proxy: its identity plus the `h2` protocol hint. The endpoint stands where the peer proxy's
// inbound side would: it terminates the mesh TLS with a leaf for its identity (ALPN transport.l5d.io/v1,
// the client's certificate required and verified against the same anchors) and speaks HTTP/2 inside,
// through a plain `http2.createServer` handed the secured sockets. The outbound proxy therefore carries
// HTTP/1.1 requests to it as streams of one mTLS HTTP/2 connection (orig-proto), as it does between pods.
import { rmSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import path from 'node:path';
import tls from 'node:tls';
import { controllerIdentityName, DEFAULT_IDENTITY_DOMAIN, identityName } from '../../src/api/identity-name.ts';
import { createLocalToken, formatTokenKey, generateTokenKey } from '../../src/control/identity/local-token.ts';
import { certificatesToPem } from '../../src/control/identity/pki.ts';
import { tempDir, testPki, writeIssuerFiles } from '../../src/control/identity/testkit.ts';
import { leafIdentity } from '../../src/workers/proxy/mesh-tls.testkit.ts';
import { MESH_TRANSPORT_ALPN } from '../../src/workers/transport/local-identity.ts';
import { eventually } from '../support/backends.ts';
import { startControllerProcess, type ControllerProcess } from '../support/controller-process.ts';
import { FakeDestination } from '../support/fake-destination.ts';
import { listen } from '../support/net.ts';
import { startProxy, type RunningProxy } from '../support/proxy.ts';

export const CLIENT_IDENTITY = identityName({ serviceAccount: 'client', namespace: 'default' }, DEFAULT_IDENTITY_DOMAIN);
export const ENDPOINT_IDENTITY = identityName({ serviceAccount: 'server', namespace: 'default' }, DEFAULT_IDENTITY_DOMAIN);
/** The service the client names; Destination resolves it to the one meshed endpoint. */
export const MESH_AUTHORITY = 'server.default.svc.cluster.local:8080';

/** What the endpoint saw of the mesh TLS connections the proxy made to it. */
export interface MeshConnection {
  readonly alpn: string | false | null;
  /** The client certificate's identity (its DNS SAN), verified against the anchors. */
  readonly clientIdentity: string | undefined;
  readonly authorized: boolean;
}

export interface MeshHop {
  readonly proxy: RunningProxy;
  /** The proxy's outbound listener, where clients send. */
  readonly port: number;
  readonly connections: readonly MeshConnection[];
  stop(): Promise<void>;
}

/**
 * Starts the controller (Identity only), the Destination service, the endpoint (mesh TLS around
 * `server`, which the caller configures and answers on) and the proxy, and waits until the proxy holds
 * its certificate. Everything started is stopped again if a later step fails.
 */
export async function startMeshHop(server: http2.Http2Server): Promise<MeshHop> {
  const stops: Array<() => unknown> = [];
  const stopAll = async (): Promise<void> => {
    for (const stop of stops.splice(0).reverse()) await stop();
  };
  try {
    const dir = tempDir();
    stops.push(() => rmSync(dir, { recursive: true, force: true }));
    const pki = await testPki();
    const files = await writeIssuerFiles(dir, pki.issuer, [pki.anchor]);
    const tokenKey = generateTokenKey();
    writeFileSync(path.join(dir, 'token.key'), formatTokenKey(tokenKey));
    writeFileSync(path.join(dir, 'mesh.yaml'), 'namespaces: {}\n');
    const controller: ControllerProcess = await startControllerProcess([
      '--discovery=file',
      `--discovery-file=${path.join(dir, 'mesh.yaml')}`,
      '--identity-addr=127.0.0.1:0',
      `--identity-issuer-cert=${files.certificate}`,
      `--identity-issuer-key=${files.key}`,
      `--identity-trust-anchors=${files.anchors}`,
      `--identity-token-key=${path.join(dir, 'token.key')}`,
    ]);
    stops.push(() => controller.stop());
    const identityAddr = /controller ready.* identity=(\S+)/.exec(controller.logs())?.[1];
    if (identityAddr === undefined) throw new Error(`the controller names no identity address:\n${controller.logs()}`);

    // The endpoint: mesh TLS terminated with its own leaf, HTTP/2 inside.
    const leaf = await leafIdentity(pki, ENDPOINT_IDENTITY);
    const connections: MeshConnection[] = [];
    const endpoint = tls.createServer({
      key: leaf.keyPem,
      cert: leaf.certChainPem,
      ca: leaf.trustAnchorsPem,
      requestCert: true,
      rejectUnauthorized: true,
      ALPNProtocols: [MESH_TRANSPORT_ALPN],
      minVersion: 'TLSv1.3',
    });
    endpoint.on('secureConnection', (secure: tls.TLSSocket) => {
      const san = secure.getPeerCertificate().subjectaltname ?? '';
      connections.push({ alpn: secure.alpnProtocol, clientIdentity: /^DNS:([^,]+)$/.exec(san)?.[1], authorized: secure.authorized });
      secure.on('error', () => {});
      server.emit('connection', secure);
    });
    endpoint.on('tlsClientError', () => {});
    const endpointPort = await listen(endpoint);
    stops.push(() => new Promise<void>((resolve) => endpoint.close(() => resolve())));

    const destination = await FakeDestination.start();
    stops.push(() => destination.stop());
    destination.setEndpoints(MESH_AUTHORITY, [{ host: '127.0.0.1', port: endpointPort, identity: ENDPOINT_IDENTITY, h2Hint: true }]);

    const tokenFile = path.join(dir, 'client-token');
    writeFileSync(tokenFile, createLocalToken(tokenKey, { serviceAccount: 'client', namespace: 'default' }));
    const proxy = await startProxy({
      SLUICE_PROXY_WORKERS: '1',
      SLUICE_PROXY_DESTINATION_SVC_ADDR: destination.address,
      SLUICE_PROXY_IDENTITY_DIR: dir,
      SLUICE_PROXY_IDENTITY_TRUST_ANCHORS: certificatesToPem([pki.anchor.certificate]),
      SLUICE_PROXY_IDENTITY_TOKEN_FILE: tokenFile,
      SLUICE_PROXY_IDENTITY_LOCAL_NAME: CLIENT_IDENTITY,
      SLUICE_PROXY_IDENTITY_SVC_ADDR: identityAddr,
      SLUICE_PROXY_IDENTITY_SVC_NAME: controllerIdentityName(DEFAULT_IDENTITY_DOMAIN),
    });
    stops.push(() => proxy.stop('SIGKILL'));
    await eventually(async () => (await fetch(`http://127.0.0.1:${proxy.admin.port}/ready`)).status === 200, 15_000, 'the proxy to hold its certificate (/ready 200)');
    return { proxy, port: proxy.outbound.port, connections, stop: stopAll };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
