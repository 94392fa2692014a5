// Test helpers for the identity service: a PKI written to a temp directory, CSRs as proxies make
// them, and a real grpc-js client of Identity/Certify built from proto/identity.proto.
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { DEFAULT_IDENTITY_DOMAIN, identityName } from '../../api/identity-name.ts';
import { loadProto, lookup } from '../../api/proto.ts';
import { Logger } from '../../log/logger.ts';
import type { IssuerFiles } from './issuer-files.ts';
import {
  certificatesToPem,
  createCsr,
  createIssuer,
  createTrustAnchor,
  generateKeyPair,
  privateKeyToPem,
  type CaCredential,
  type CaParams,
} from './pki.ts';
import { IDENTITY_SERVICE } from './component.ts';
import type { CertifyResponse } from './service.ts';

export const quietLog = (): Logger => new Logger('error', 'plain', 'test', () => {});

/** A logger that keeps its lines, to assert on what was logged. */
export function recordingLog(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  return { log: new Logger('debug', 'plain', 'test', (line) => lines.push(line)), lines };
}

export const identityOf = (sa: string, ns: string): string => identityName({ serviceAccount: sa, namespace: ns }, DEFAULT_IDENTITY_DOMAIN);

export interface TestPki {
  readonly anchor: CaCredential;
  readonly issuer: CaCredential;
}

export async function testPki(issuerParams: CaParams = {}): Promise<TestPki> {
  const anchor = await createTrustAnchor();
  return { anchor, issuer: await createIssuer(anchor, issuerParams) };
}

/** Writes an issuer and anchors as the controller reads them; returns the paths. */
export async function writeIssuerFiles(dir: string, issuer: CaCredential, anchors: readonly CaCredential[]): Promise<IssuerFiles> {
  const files = { certificate: path.join(dir, 'issuer.crt'), key: path.join(dir, 'issuer.key'), anchors: path.join(dir, 'ca.crt') };
  // Written beside and renamed into place, as tools that replace files atomically do.
  const put = (file: string, text: string): void => {
    writeFileSync(`${file}.tmp`, text);
    renameSync(`${file}.tmp`, file);
  };
  put(files.key, await privateKeyToPem(issuer.privateKey));
  put(files.certificate, certificatesToPem([issuer.certificate, ...issuer.chain]));
  put(files.anchors, certificatesToPem(anchors.map((a) => a.certificate)));
  return files;
}

export const tempDir = (): string => mkdtempSync(path.join(tmpdir(), 'sluice-identity-'));

/** DER of a CSR for `identity`, as a proxy sends it. */
export async function csrDer(identity: string): Promise<Buffer> {
  return Buffer.from((await createCsr(identity, await generateKeyPair())).rawData);
}

export interface CertifyArgs {
  identity?: string;
  token?: string | Buffer;
  certificate_signing_request?: Buffer;
}

export class IdentityClient {
  private readonly client: grpc.Client;

  constructor(address: string) {
    const Constructor = lookup<grpc.ServiceClientConstructor>(loadProto('identity.proto'), IDENTITY_SERVICE);
    this.client = new Constructor(address, grpc.credentials.createInsecure());
  }

  certify(request: CertifyArgs): Promise<CertifyResponse> {
    const body = { ...request, token: typeof request.token === 'string' ? Buffer.from(request.token) : request.token };
    return new Promise((resolve, reject) => {
      const deadline = Date.now() + 20_000;
      (this.client as unknown as Record<string, Function>)['Certify']!.call(this.client, body, { deadline }, (error: grpc.ServiceError | null, response: CertifyResponse) =>
        error === null ? resolve(response) : reject(error),
      );
    });
  }

  close(): void {
    this.client.close();
  }
}

/** Serves `implementation` as Identity on 127.0.0.1:<free port>. */
export async function serveIdentity(implementation: grpc.UntypedServiceImplementation): Promise<{ address: string; close: () => void }> {
  const { identityDefinition } = await import('./component.ts');
  const server = new grpc.Server();
  server.addService(identityDefinition(), implementation);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => (error === null ? resolve(bound) : reject(error))),
  );
  return { address: `127.0.0.1:${port}`, close: () => server.forceShutdown() };
}

/** Polls `check` every 20 ms until it holds; fails after `timeoutMs` saying what was awaited. */
export async function eventually(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
