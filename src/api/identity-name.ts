// Identity names, as Linkerd's: `<sa>.<ns>.serviceaccount.identity.<control-plane-ns>.<trust-domain>`.
// The one place the format is written: the controller's Identity service (what a token proves), its
// discovery (the identity Destination announces for a meshed pod), the injector (the proxy's local
// name and the controller's name it trusts) and the proxy (the name it asks for) all build and read
// names here, so a change of format cannot leave one of them behind.
//
// The service account and namespace are what a token proves; the rest is fixed by the control plane,
// so a name is valid only under this controller's namespace and trust domain.

export interface IdentityDomain {
  readonly controlPlaneNamespace: string;
  readonly trustDomain: string;
}

export interface ServiceAccountRef {
  readonly serviceAccount: string;
  readonly namespace: string;
}

/** Linkerd's default trust domain; the control plane's namespace defaults to `sluice`. */
export const DEFAULT_IDENTITY_DOMAIN: IdentityDomain = { controlPlaneNamespace: 'sluice', trustDomain: 'cluster.local' };

/** The service account the controller runs as: Identity, Destination and Tap all serve under its name. */
export const CONTROLLER_SERVICE_ACCOUNT = 'sluice-controller';

/** Kubernetes names of namespaces and service accounts are DNS-1123 labels (RFC 1123, 63 octets). */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export function isDnsLabel(value: string): boolean {
  return DNS_LABEL.test(value);
}

export function identitySuffix(domain: IdentityDomain): string {
  return `serviceaccount.identity.${domain.controlPlaneNamespace}.${domain.trustDomain}`;
}

export function identityName(account: ServiceAccountRef, domain: IdentityDomain): string {
  return `${account.serviceAccount}.${account.namespace}.${identitySuffix(domain)}`;
}

/** `sluice-controller.<cp-ns>.serviceaccount.identity.<cp-ns>.<td>`: the name proxies verify the controller by. */
export function controllerIdentityName(domain: IdentityDomain): string {
  return identityName({ serviceAccount: CONTROLLER_SERVICE_ACCOUNT, namespace: domain.controlPlaneNamespace }, domain);
}

/** The service account an identity name stands for, or why it is not a name under `domain`. */
export function parseIdentityName(name: string, domain: IdentityDomain): ServiceAccountRef | { readonly error: string } {
  const suffix = `.${identitySuffix(domain)}`;
  const form = `<serviceaccount>.<namespace>${suffix}`;
  if (!name.endsWith(suffix)) return { error: `identity "${name}" is not of the form ${form}` };
  const parts = name.slice(0, -suffix.length).split('.');
  const [serviceAccount, namespace] = parts;
  if (parts.length !== 2 || serviceAccount === undefined || namespace === undefined) {
    return { error: `identity "${name}" is not of the form ${form}` };
  }
  for (const label of parts) {
    if (!isDnsLabel(label)) return { error: `identity "${name}": "${label}" is not a DNS-1123 label` };
  }
  return { serviceAccount, namespace };
}
