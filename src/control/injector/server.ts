// The injector's HTTPS server: the API server POSTs AdmissionReviews to it (any path; install registers
// `/inject`). TLS is required by Kubernetes for webhooks; the certificate is issued for the
// `sluice-proxy-injector.<ns>.svc` Service and its CA goes into the MutatingWebhookConfiguration.
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../../log/logger.ts';
import { BadReview, parseReview, review, type ReviewDeps } from './review.ts';

/** Far above any pod (the API server caps objects at ~1.5 MB); a bigger body is refused, not buffered. */
const MAX_BODY_BYTES = 8 * 1024 * 1024;

export interface InjectorServer {
  readonly address: AddressInfo;
  close(): Promise<void>;
}

export async function startInjectorServer(
  options: { host: string; port: number; cert: string | Buffer; key: string | Buffer },
  deps: ReviewDeps,
  log: Logger,
): Promise<InjectorServer> {
  const server = https.createServer({ cert: options.cert, key: options.key }, (req, res) => {
    const reply = (status: number, body: unknown): void => {
      const text = JSON.stringify(body);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    };
    if (req.method !== 'POST') {
      reply(405, { error: 'POST an admission.k8s.io/v1 AdmissionReview' });
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reply(413, { error: `body over ${MAX_BODY_BYTES} bytes` });
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (size > MAX_BODY_BYTES) return;
      let request;
      try {
        request = parseReview(Buffer.concat(chunks).toString('utf8'));
      } catch (error) {
        if (!(error instanceof BadReview)) throw error;
        log.warn('bad admission request', { error: error.message, from: req.socket.remoteAddress ?? '' });
        reply(400, { error: error.message });
        return;
      }
      void review(request, deps).then((body) => reply(200, body));
    });
  });
  server.on('tlsClientError', (error) => log.debug('injector TLS handshake failed', { error: error.message }));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    address: server.address() as AddressInfo,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
