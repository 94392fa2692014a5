// The tap relay's public API methods (proto/public.proto): `TapByResource` (Conduit 0.5 / Linkerd 2
// `TapByResourceRequest`: a resource, a match tree, maxRps) and `Tap` (Conduit's flat `TapRequest`).
// Both stream `io.linkerd.proxy.tap.TapEvent`s merged from the target's proxies (relay.ts), once the
// caller is authorized (authorize.ts: Kubernetes RBAC with Kubernetes discovery, open otherwise).
import { Logger } from '../../log/logger.ts';
import type { Component } from '../context.ts';
import type { CallerCredentials, ControllerContext } from '../context.ts';
import { KubernetesTapAuthorizer, openTapAuthorizer, type TapAuthorizer } from './authorize.ts';
import { relayTap, type RelayOptions } from './relay.ts';
import { formatResource, planByResource, planTapRequest, type TapByResourceRequestMessage, type TapPlan, type TapRequestMessage } from './resolve.ts';

/** Linkerd's proxy tap port. */
export const DEFAULT_TAP_PORT = 4190;
/** Linkerd's tap interval: each pod is asked for its share of maxRps once per second. */
export const DEFAULT_WINDOW_MS = 1000;

export interface TapComponentOptions {
  /** Where proxies serve Tap unless a pod's `sluice.io/tap-port` label says otherwise. */
  readonly tapPort?: number;
  readonly windowMs?: number;
  /** Default: Kubernetes RBAC with Kubernetes discovery, else everyone. */
  readonly authorizer?: TapAuthorizer;
}

/** TokenReviews and SubjectAccessReviews with the controller's own Kubernetes credentials. */
async function kubernetesAuthorizer(ctx: ControllerContext): Promise<TapAuthorizer> {
  const [{ AuthenticationV1Api, AuthorizationV1Api }, { loadKubeConfig }] = await Promise.all([import('@kubernetes/client-node'), import('../kubeconfig.ts')]);
  const kubeConfig = await loadKubeConfig(process.env, 'tap');
  const authentication = kubeConfig.makeApiClient(AuthenticationV1Api);
  const authorization = kubeConfig.makeApiClient(AuthorizationV1Api);
  return new KubernetesTapAuthorizer(
    {
      createTokenReview: (body) => authentication.createTokenReview({ body }),
      createSubjectAccessReview: (body) => authorization.createSubjectAccessReview({ body }),
    },
    ctx.config.controlPlaneNamespace,
  );
}

export function tapComponent(options: TapComponentOptions = {}): Component {
  return async (ctx) => {
    const relay: RelayOptions = {
      log: new Logger(ctx.log.level, ctx.log.format, 'tap'),
      tapPort: options.tapPort ?? DEFAULT_TAP_PORT,
      windowMs: options.windowMs ?? DEFAULT_WINDOW_MS,
      pods: () => ctx.discovery.pods(),
      ...(ctx.identity === undefined
        ? {}
        : { identity: { controller: ctx.identity, domain: { controlPlaneNamespace: ctx.config.controlPlaneNamespace, trustDomain: ctx.config.trustDomain } } }),
    };
    const authorizer = options.authorizer ?? (ctx.config.discovery === 'kubernetes' ? await kubernetesAuthorizer(ctx) : openTapAuthorizer);
    relay.log.info('tap authorization', { kind: authorizer.kind });
    const authorizedRelay = async (plan: TapPlan, emit: (message: unknown) => void, signal: AbortSignal, caller: CallerCredentials | undefined): Promise<void> => {
      let who: string;
      try {
        who = await authorizer.authorize(caller, plan.resource);
      } catch (error) {
        relay.log.info('tap refused', { target: formatResource(plan.resource), reason: (error as Error).message });
        throw error;
      }
      relay.log.info('tap authorized', { target: formatResource(plan.resource), user: who });
      await relayTap(plan, emit, signal, relay);
    };
    ctx.publicApi.addStream('TapByResource', async (request, emit, signal, caller) =>
      authorizedRelay(planByResource(request as TapByResourceRequestMessage, ctx.discovery.pods()), emit, signal, caller),
    );
    ctx.publicApi.addStream('Tap', async (request, emit, signal, caller) =>
      authorizedRelay(planTapRequest(request as TapRequestMessage, ctx.discovery.pods()), emit, signal, caller),
    );
  };
}

export const tapRelayComponent: Component = tapComponent();
