// The tap relay: one public API tap becomes an Observe call on the Tap server of every pod of the target
// (`<pod IP>:4190`), whose events are merged into one stream, with pod metadata added.
//
// Rate limit, as Linkerd's tap server does it: `maxRps` (100 when 0) is shared evenly by the pods, at
// least 1 each, and each pod is observed in windows (1 s): an Observe call with limit = its share of
// requests for one window, and no new call before the window is over. A proxy's call ends by itself
// once its limit of requests has completed, so no pod sends more than its share, and no event is dropped
// half-way through a request. The stream ends when the caller goes away.
//
// With the controller's identity on, each proxy is called over mutual TLS (proxy-tls.ts) with the
// controller's certificate of the moment: a client made before a renewal is replaced at the next window.
import type { Logger } from '../../log/logger.ts';
import { formatIp, type TcpAddressLike } from '../../api/net-address.ts';
import type { IdentityDomain } from '../../api/identity-name.ts';
import { tapClient, type TapClient } from '../../api/tap.ts';
import type { ControllerCertificate, ControllerIdentity } from '../context.ts';
import type { PodInfo } from '../discovery/types.ts';
import { expectedProxyIdentity, tlsTapClient } from './proxy-tls.ts';
import { NOT_FOUND, TapRequestError, UNAVAILABLE, formatResource, tapAddress, tappable, type TapPlan } from './resolve.ts';

export interface RelayOptions {
  readonly log: Logger;
  /** Where proxies serve Tap, unless a pod's `sluice.io/tap-port` label says otherwise (Linkerd: 4190). */
  readonly tapPort: number;
  /** Length of a rate-limit window (Linkerd: 1 s). */
  readonly windowMs: number;
  /** Every pod discovery knows, to name the other side of each event by its IP. */
  readonly pods: () => readonly PodInfo[];
  /** The controller's identity (mutual TLS to proxies when enabled) and the domain pods' identities are in. */
  readonly identity?: { readonly controller: ControllerIdentity; readonly domain: IdentityDomain };
}

/** A Tap client of one pod's proxy, and the certificate it presents (undefined: plaintext). */
interface PodClient {
  readonly client: TapClient;
  readonly certificate: ControllerCertificate | undefined;
}

/** The controller's certificate to call proxies with; throws UNAVAILABLE when identity is on without one yet. */
function callingCertificate(options: RelayOptions): ControllerCertificate | undefined {
  const controller = options.identity?.controller;
  if (controller === undefined || !controller.enabled) return undefined;
  const certificate = controller.current();
  if (certificate === undefined) {
    throw new TapRequestError(UNAVAILABLE, 'the controller holds no certificate yet (is its identity issuer loaded?): proxies serve tap only to the controller over mutual TLS');
  }
  return certificate;
}

function podClient(pod: PodInfo, address: string, options: RelayOptions): PodClient {
  const certificate = callingCertificate(options);
  if (certificate === undefined || options.identity === undefined) return { client: tapClient(address), certificate: undefined };
  return { client: tlsTapClient(address, certificate, expectedProxyIdentity(pod, options.identity.domain)), certificate };
}

type Event = Record<string, any>;

const CANCELLED = 1;
/** Before calling a proxy again after its call failed. */
const RETRY_MS = 1000;

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, Math.max(0, ms));
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/** The labels a pod is known by in tap events (Linkerd's: pod, namespace, owner kind, service account). */
export function podLabels(pod: PodInfo): Record<string, string> {
  const labels: Record<string, string> = { namespace: pod.namespace, pod: pod.name, serviceaccount: pod.serviceAccount };
  if (pod.owner !== undefined) labels[pod.owner.kind.toLowerCase()] = pod.owner.name;
  return labels;
}

/** Pods by IP, where an IP belongs to one pod only (a local demo runs every pod on 127.0.0.1). */
function podsByIp(pods: readonly PodInfo[]): Map<string, PodInfo> {
  const byIp = new Map<string, PodInfo | null>();
  for (const pod of pods) {
    if (pod.ip === undefined || pod.ip === '') continue;
    byIp.set(pod.ip, byIp.has(pod.ip) ? null : pod);
  }
  const unique = new Map<string, PodInfo>();
  for (const [ip, pod] of byIp) if (pod !== null) unique.set(ip, pod);
  return unique;
}

/**
 * Adds what the controller knows to an event from `tapped`'s proxy: the tapped pod's labels on its own
 * side (destination when inbound, source when outbound), the other side's by IP. A proxy's own labels win.
 */
export function hydrate(event: Event, tapped: PodInfo, byIp: ReadonlyMap<string, PodInfo>): Event {
  const inbound = event['proxy_direction'] === 'INBOUND';
  const side = (name: 'source' | 'destination', own: boolean): void => {
    const metaKey = `${name}_meta`;
    const existing = (event[metaKey]?.['labels'] ?? {}) as Record<string, string>;
    const pod = own ? tapped : byIp.get(formatIp((event[name] as TcpAddressLike | undefined)?.ip));
    if (pod === undefined) return;
    event[metaKey] = { labels: { ...podLabels(pod), ...existing } };
  };
  side('destination', inbound);
  side('source', !inbound);
  return event;
}

interface PodOutcome {
  readonly pod: PodInfo;
  /** Set when the pod's proxy never answered and was given up on. */
  readonly failure?: { readonly code: number; readonly message: string };
}

/**
 * Streams the events of `plan` to `emit` until `signal` aborts. Rejects with a TapRequestError when there
 * is no pod to tap, or when no pod's proxy could be reached.
 */
export async function relayTap(plan: TapPlan, emit: (event: Event) => void, signal: AbortSignal, options: RelayOptions): Promise<void> {
  const targets = tappable(plan.pods);
  if (targets.length === 0) {
    const reasons: string[] = [];
    const unmeshed = plan.pods.filter((p) => !p.meshed).length;
    const notRunning = plan.pods.filter((p) => p.meshed && (p.phase !== 'Running' || !p.ip)).length;
    if (unmeshed > 0) reasons.push(`${unmeshed} without a Sluice proxy`);
    if (notRunning > 0) reasons.push(`${notRunning} not running`);
    throw new TapRequestError(NOT_FOUND, `no pods to tap for ${formatResource(plan.resource)}${reasons.length > 0 ? ` (${plan.pods.length} found: ${reasons.join(', ')})` : ''}`);
  }
  // Before any pod is called: a controller without its certificate could reach none of them.
  callingCertificate(options);
  const perPod = Math.max(1, plan.maxRps / targets.length);
  const limit = Math.max(1, Math.floor((perPod * options.windowMs) / 1000));
  const request: Record<string, unknown> = { limit };
  if (plan.match !== undefined) request['match'] = plan.match;
  if (plan.headers) request['extract'] = { http: { headers: {} } };
  const byIp = podsByIp(options.pods());
  options.log.info('tapping pods', { target: formatResource(plan.resource), pods: targets.length, limitPerWindow: limit, windowMs: options.windowMs });

  const outcomes = await Promise.all(
    targets.map((pod) => tapPod(pod, tapAddress(pod, options.tapPort), request, (event) => emit(hydrate(event, pod, byIp)), signal, options)),
  );
  if (signal.aborted) return;
  const failed = outcomes.filter((o) => o.failure !== undefined);
  const first = failed[0]?.failure;
  if (first !== undefined && failed.length === outcomes.length) {
    const detail = failed.map((o) => `${o.pod.namespace}/${o.pod.name} (${tapAddress(o.pod, options.tapPort)}): ${o.failure?.message}`).join('; ');
    throw new TapRequestError(first.code === CANCELLED ? UNAVAILABLE : first.code, `cannot tap ${formatResource(plan.resource)}: ${detail}`);
  }
}

/** Observes one pod window after window until aborted, or until its proxy proves unreachable. */
async function tapPod(
  pod: PodInfo,
  address: string,
  request: object,
  onEvent: (event: Event) => void,
  signal: AbortSignal,
  options: RelayOptions,
): Promise<PodOutcome> {
  let current = podClient(pod, address, options);
  let answered = false;
  try {
    while (!signal.aborted) {
      const windowEnd = Date.now() + options.windowMs;
      // The controller's certificate was renewed: the next calls present the new one.
      const certificate = current.certificate === undefined ? undefined : options.identity?.controller.current();
      if (certificate !== undefined && certificate.certChainPem !== current.certificate?.certChainPem) {
        current.client.close();
        current = podClient(pod, address, options);
      }
      const status = await observeOnce(current.client, request, signal, (event) => {
        answered = true;
        onEvent(event);
      });
      if (signal.aborted) break;
      if (status.code === 0) {
        answered = true;
      } else {
        if (!answered) {
          options.log.warn('cannot tap pod', { pod: `${pod.namespace}/${pod.name}`, address, error: status.details });
          return { pod, failure: { code: status.code, message: status.details } };
        }
        options.log.info('tap of pod failed; trying again', { pod: `${pod.namespace}/${pod.name}`, address, error: status.details });
        await sleep(Math.max(RETRY_MS, windowEnd - Date.now()), signal);
        continue;
      }
      // The proxy ended the call at its limit: wait for the next window.
      await sleep(windowEnd - Date.now(), signal);
    }
    return { pod };
  } finally {
    current.client.close();
  }
}

function observeOnce(client: TapClient, request: object, signal: AbortSignal, onEvent: (event: Event) => void): Promise<{ code: number; details: string }> {
  return new Promise((resolve) => {
    const call = client.Observe(request);
    const abort = (): void => call.cancel();
    signal.addEventListener('abort', abort, { once: true });
    call.on('data', (event: Event) => onEvent(event));
    call.on('error', () => {});
    call.on('status', (status: { code: number; details: string }) => {
      signal.removeEventListener('abort', abort);
      resolve({ code: status.code, details: status.details });
    });
  });
}
