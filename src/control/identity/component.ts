// The identity component: picks the issuer source and the token validator from the configuration,
// loads the issuer (refusing to start with a bad one), and serves `io.linkerd.proxy.identity.Identity`
// on its own port (8080), apart from Destination, as Linkerd's identity is its own service.
//
//   issuer files given            → files, watched          tokens: --identity-token-key if given, else TokenReview
//   kubernetes discovery          → Secret + ConfigMap       tokens: TokenReview (audience identity.sluice.dev)
//   file discovery, no issuer     → identity off (logged)
//
// Served over TLS with a certificate the controller issues itself for its own identity
// (serving-certificate.ts), which proxies verify against the trust anchors and SLUICE_PROXY_IDENTITY_SVC_NAME.
import { readFile } from 'node:fs/promises';
import * as grpc from '@grpc/grpc-js';
import type { KubeConfig } from '@kubernetes/client-node';
import { loadProto, lookup } from '../../api/proto.ts';
import { formatHostPort } from '../../config/parse.ts';
import { Logger } from '../../log/logger.ts';
import type { ControllerConfig } from '../config.ts';
import type { Component } from '../context.ts';
import { IssuerHolder, IssuerRefusedError } from './issuer.ts';
import { readIssuerFiles, watchIssuerFiles } from './issuer-files.ts';
import { LocalTokenValidator, parseTokenKey } from './local-token.ts';
import { controllerIdentityName } from '../../api/identity-name.ts';
import { IdentityService } from './service.ts';
import { ServingCertificate, servingCredentials } from './serving-certificate.ts';
import { WorkerSigner, type Signer } from './signer.ts';
import type { TokenValidator } from './token.ts';

export const IDENTITY_SERVICE = 'io.linkerd.proxy.identity.Identity';

export function identityDefinition(): grpc.ServiceDefinition {
  return lookup<grpc.ServiceClientConstructor>(loadProto('identity.proto'), IDENTITY_SERVICE).service;
}

/** A reason the identity service cannot start other than a bad issuer (which is IssuerRefusedError). */
export class IdentityStartError extends Error {
  override name = 'IdentityStartError';
}

export interface RunningIdentity {
  readonly holder: IssuerHolder;
  readonly service: IdentityService;
  /** The controller's own certificate, which the Identity service is served with over TLS. */
  readonly serving: ServingCertificate;
  close(): Promise<void>;
}

export interface IdentityDeps {
  /** The cluster configuration, loaded only when Kubernetes is used (tests point it at a fake API server). */
  readonly kubeConfig: () => Promise<KubeConfig>;
  /** Default: a WorkerSigner (signing off the event loop). */
  readonly signer?: Signer;
}

const defaultDeps: IdentityDeps = {
  kubeConfig: async () => (await import('../kubeconfig.ts')).loadKubeConfig(process.env, 'identity'),
};

async function tokenValidator(config: ControllerConfig, kubeConfig: () => Promise<KubeConfig>): Promise<TokenValidator> {
  if (config.identityTokenKeyFile !== undefined) {
    try {
      return new LocalTokenValidator(parseTokenKey(await readFile(config.identityTokenKeyFile, 'utf8')));
    } catch (error) {
      throw new IdentityStartError(`identity token key ${config.identityTokenKeyFile}: ${(error as Error).message}`);
    }
  }
  if (config.discovery !== 'kubernetes') {
    throw new IdentityStartError('identity with file discovery needs --identity-token-key (written by `sluice identity generate`)');
  }
  const [{ AuthenticationV1Api }, { TokenReviewValidator, tokenReviewsOf }] = await Promise.all([
    import('@kubernetes/client-node'),
    import('./token-review.ts'),
  ]);
  return new TokenReviewValidator(tokenReviewsOf((await kubeConfig()).makeApiClient(AuthenticationV1Api)));
}

/**
 * Loads the issuer and builds the service, or returns undefined when identity is off. Throws
 * IssuerRefusedError (bad issuer) or IdentityStartError (anything else missing) with the reason.
 */
export async function startIdentity(config: ControllerConfig, log: Logger, deps: IdentityDeps = defaultDeps): Promise<RunningIdentity | undefined> {
  const files = config.identityIssuerFiles;
  if (files === undefined && config.discovery !== 'kubernetes') {
    log.info('identity off: no issuer (set --identity-issuer-cert, --identity-issuer-key and --identity-trust-anchors)');
    return undefined;
  }
  const validator = await tokenValidator(config, deps.kubeConfig);
  const holder = new IssuerHolder(log);
  const closers: Array<() => void> = [];
  if (files !== undefined) {
    await holder.start(await readIssuerFiles(files));
    closers.push(
      watchIssuerFiles(
        files,
        (material) => void holder.offer(material),
        (error) => log.warn('identity issuer files unreadable; keeping the current issuer', { reason: error.message }),
      ),
    );
  } else {
    const { KubernetesIssuerSource } = await import('./issuer-kubernetes.ts');
    const source = new KubernetesIssuerSource({
      kubeConfig: await deps.kubeConfig(),
      namespace: config.controlPlaneNamespace,
      log,
      onChange: (material) => void holder.offer(material),
    });
    closers.push(() => source.close());
    const initial = await source.start();
    if ('missing' in initial) {
      log.warn('identity issuer not found; Certify answers UNAVAILABLE until it appears', { missing: initial.missing });
    } else {
      try {
        await holder.start(initial);
      } catch (error) {
        source.close();
        throw error;
      }
    }
  }
  const signer = deps.signer ?? new WorkerSigner();
  const service = new IdentityService({
    issuer: () => holder.current,
    validator,
    signer,
    domain: { controlPlaneNamespace: config.controlPlaneNamespace, trustDomain: config.trustDomain },
    leafLifetimeMs: config.identityIssuanceLifetimeMs,
    log,
  });
  const domain = { controlPlaneNamespace: config.controlPlaneNamespace, trustDomain: config.trustDomain };
  const serving = new ServingCertificate({ holder, identity: controllerIdentityName(domain), lifetimeMs: config.identityIssuanceLifetimeMs, log });
  await serving.start();
  return {
    holder,
    service,
    serving,
    close: async () => {
      serving.close();
      for (const close of closers) close();
      await signer.close();
    },
  };
}

export const identityComponent: Component = async (ctx) => {
  const log = new Logger(ctx.log.level, ctx.log.format, 'identity');
  let identity: RunningIdentity | undefined;
  try {
    identity = await startIdentity(ctx.config, log);
  } catch (error) {
    if (!(error instanceof IssuerRefusedError || error instanceof IdentityStartError)) throw error;
    log.error('identity cannot start', { reason: error.message });
    process.exit(1);
  }
  if (identity === undefined) return;
  const serving = identity.serving;
  // The tap relay calls proxies' Tap servers with this certificate (they serve only this identity).
  ctx.identity?.provide(() => serving.current());
  const server = new grpc.Server();
  server.addService(identityDefinition(), identity.service.implementation());
  // Over TLS with the controller's own certificate: proxies verify it before they send their token.
  const credentials = servingCredentials(identity.serving);
  const addr = ctx.config.identityAddr;
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(formatHostPort(addr), credentials, (error, bound) => (error === null ? resolve(bound) : reject(error))),
  ).catch((error: Error) => {
    log.error('cannot listen for proxies', { addr: formatHostPort(addr), error: error.message });
    process.exit(1);
  });
  ctx.addresses['identity'] = formatHostPort({ host: addr.host, port });
  const running = identity;
  ctx.onClose(async () => {
    server.forceShutdown();
    await running.close();
  });
};
