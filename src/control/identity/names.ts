// Identity names, as Linkerd's: `<sa>.<ns>.serviceaccount.identity.<control-plane-ns>.<trust-domain>`.
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
