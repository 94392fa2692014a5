// The names the control plane's objects share: the one place the Deployment, its Services, the RBAC,
// the webhook configuration, `uninstall` and `check` take them from, so that they cannot drift.
import type { V1ObjectMeta } from '@kubernetes/client-node';
import { CONTROL_PLANE_NS_LABEL } from '../inject/annotations.ts';
import type { Values } from '../inject/values.ts';

export const CONTROLLER = 'sluice-controller';
/** Also the controller's identity's service-account part. */
export const SERVICE_ACCOUNT = CONTROLLER;
export const CONFIG_MAP = 'sluice-config';
export const TRUST_ROOTS_CONFIG_MAP = 'sluice-identity-trust-roots';
export const TRUST_ROOTS_KEY = 'ca-bundle.crt';
export const ISSUER_SECRET = 'sluice-identity-issuer';
export const WEBHOOK_SECRET = 'sluice-proxy-injector-tls';
export const WEBHOOK_CONFIGURATION = 'sluice-proxy-injector-webhook-config';
export const WEBHOOK_NAME = 'sluice-proxy-injector.sluice.dev';
/** Label on every control-plane pod: the webhook's objectSelector skips pods that carry it. */
export const COMPONENT_LABEL = 'sluice.dev/control-plane-component';
/** A namespace labelled `disabled` here is never sent to the webhook (Linkerd's `config.linkerd.io/admission-webhooks`). */
export const ADMISSION_WEBHOOKS_LABEL = 'config.sluice.dev/admission-webhooks';

/** Services in front of the controller, each with the controller port it targets. */
export const SERVICES = {
  destination: { name: 'sluice-destination', port: 8086, targetPort: 8086, portName: 'grpc' },
  identity: { name: 'sluice-identity', port: 8080, targetPort: 8080, portName: 'grpc' },
  injector: { name: 'sluice-proxy-injector', port: 443, targetPort: 8443, portName: 'https' },
  publicApi: { name: 'sluice-public-api', port: 8085, targetPort: 8085, portName: 'http' },
} as const;
/** Headless: one DNS address per replica, how replicas find each other to share telemetry. */
export const PEERS_SERVICE = 'sluice-controller-peers';
export const ADMIN_PORT = 9990;
/** The web dashboard (Linkerd's 8084), reached by `sluice dashboard` through a port-forward: no Service. */
export const DASHBOARD_PORT = 8084;

/** Where the controller container finds its mounted credentials. */
export const MOUNTS = {
  config: '/var/run/sluice/config',
  issuer: '/var/run/sluice/identity/issuer',
  trustRoots: '/var/run/sluice/identity/trust-roots',
  webhook: '/var/run/sluice/proxy-injector',
} as const;

export function commonLabels(values: Values): Record<string, string> {
  return { [CONTROL_PLANE_NS_LABEL]: values.controlPlaneNamespace, 'app.kubernetes.io/part-of': 'sluice' };
}

/** Metadata of a namespaced control-plane object. */
export function meta(values: Values, name: string, extra: Partial<V1ObjectMeta> = {}): V1ObjectMeta {
  return { name, namespace: values.controlPlaneNamespace, ...extra, labels: { ...commonLabels(values), ...extra.labels } };
}

/** Metadata of a cluster-scoped object (no namespace). */
export function clusterMeta(values: Values, name: string): V1ObjectMeta {
  return { name, labels: commonLabels(values) };
}

/** `sluice-controller-sluice`: cluster-scoped names carry the namespace, so two installs cannot collide. */
export function clusterRoleName(values: Values): string {
  return `${CONTROLLER}-${values.controlPlaneNamespace}`;
}
