// The tap relay's public API methods (proto/public.proto): `TapByResource` (Conduit 0.5 / Linkerd 2
// `TapByResourceRequest`: a resource, a match tree, maxRps) and `Tap` (Conduit's flat `TapRequest`).
// Both stream `io.linkerd.proxy.tap.TapEvent`s merged from the target's proxies (relay.ts).
import { Logger } from '../../log/logger.ts';
import type { Component } from '../context.ts';
import { relayTap, type RelayOptions } from './relay.ts';
import { planByResource, planTapRequest, type TapByResourceRequestMessage, type TapRequestMessage } from './resolve.ts';

/** Linkerd's proxy tap port. */
export const DEFAULT_TAP_PORT = 4190;
/** Linkerd's tap interval: each pod is asked for its share of maxRps once per second. */
export const DEFAULT_WINDOW_MS = 1000;

export interface TapComponentOptions {
  /** Where proxies serve Tap unless a pod's `sluice.io/tap-port` label says otherwise. */
  readonly tapPort?: number;
  readonly windowMs?: number;
}

export function tapComponent(options: TapComponentOptions = {}): Component {
  return (ctx) => {
    const relay: RelayOptions = {
      log: new Logger(ctx.log.level, ctx.log.format, 'tap'),
      tapPort: options.tapPort ?? DEFAULT_TAP_PORT,
      windowMs: options.windowMs ?? DEFAULT_WINDOW_MS,
      pods: () => ctx.discovery.pods(),
      ...(ctx.identity === undefined
        ? {}
        : { identity: { controller: ctx.identity, domain: { controlPlaneNamespace: ctx.config.controlPlaneNamespace, trustDomain: ctx.config.trustDomain } } }),
    };
    ctx.publicApi.addStream('TapByResource', async (request, emit, signal) =>
      relayTap(planByResource(request as TapByResourceRequestMessage, ctx.discovery.pods()), emit, signal, relay),
    );
    ctx.publicApi.addStream('Tap', async (request, emit, signal) =>
      relayTap(planTapRequest(request as TapRequestMessage, ctx.discovery.pods()), emit, signal, relay),
    );
  };
}

export const tapRelayComponent: Component = tapComponent();
