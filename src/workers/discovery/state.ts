// What the main thread tells workers about one destination (a `host:port` authority or an `ip:port`
// target), already decoded from the Destination API into plain data: it is posted to worker threads.
// Each message carries the whole state; endpoint sets are small and changes rare.
import type { RetryBudgetConfig } from '../retry/budget.ts';

export interface EndpointData {
  readonly host: string;
  readonly port: number;
  /** The Destination API's `metric_labels`: the set's (`namespace`, `service`) and the endpoint's own
   * (`pod`, `deployment`, …), merged; the proxy reports them with a `dst_` prefix. */
  readonly labels: Readonly<Record<string, string>>;
  /**
   * The identity the endpoint proves with its certificate, and the SNI to ask for it by (Destination's
   * `tls_identity`: `dns_like_identity.name`, `server_name.name`). Absent for endpoints outside the mesh:
   * they are reached in plaintext.
   */
  readonly tlsIdentity?: { readonly identity: string; readonly serverName: string };
  /** `h2` when the endpoint is a proxy that takes HTTP/2 (Destination's `protocol_hint`). */
  readonly protocolHint?: 'h2';
}

export type RequestMatchData =
  | { readonly kind: 'all'; readonly matches: readonly RequestMatchData[] }
  | { readonly kind: 'any'; readonly matches: readonly RequestMatchData[] }
  | { readonly kind: 'not'; readonly match: RequestMatchData }
  /** Matched against the whole path (without the query), as Linkerd anchors it. */
  | { readonly kind: 'path'; readonly regex: string }
  /** Upper case, as on the wire. */
  | { readonly kind: 'method'; readonly method: string }
  /** A condition the proxy cannot read (empty, or from a newer API): never matches. */
  | { readonly kind: 'none' };

export type ResponseMatchData =
  | { readonly kind: 'all'; readonly matches: readonly ResponseMatchData[] }
  | { readonly kind: 'any'; readonly matches: readonly ResponseMatchData[] }
  | { readonly kind: 'not'; readonly match: ResponseMatchData }
  /** Inclusive; a bound of 0 means no bound. */
  | { readonly kind: 'status'; readonly min: number; readonly max: number }
  | { readonly kind: 'none' };

export interface RouteData {
  readonly condition: RequestMatchData;
  readonly responseClasses: ReadonlyArray<{ readonly condition: ResponseMatchData; readonly isFailure: boolean }>;
  /** The route's `metrics_labels` (`route` = its name); reported with an `rt_` prefix. */
  readonly labels: Readonly<Record<string, string>>;
  readonly isRetryable: boolean;
  /** Undefined when the route sets none. */
  readonly timeoutMs: number | undefined;
}

export interface ProfileData {
  readonly fullyQualifiedName: string;
  readonly routes: readonly RouteData[];
  /** Undefined when the controller sent none: Linkerd's default budget applies. */
  readonly retryBudget: RetryBudgetConfig | undefined;
}

export type DiscoveryState =
  /**
   * Route as if there were no control plane (DNS, then the original destination): `not_found` when
   * the controller does not know the name (NotFound, InvalidArgument), `unavailable` when it could not
   * be asked and nothing was known before.
   */
  | { readonly kind: 'fallback'; readonly reason: 'not_found' | 'unavailable' }
  /** An empty endpoint list is a known service with no ready endpoints. */
  | { readonly kind: 'resolved'; readonly endpoints: readonly EndpointData[]; readonly profile: ProfileData | undefined };
