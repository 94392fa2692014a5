// The control plane's configuration objects: the namespace, the values ConfigMap the injector reads,
// the trust anchors ConfigMap, the issuer and webhook Secrets, and the MutatingWebhookConfiguration
// that sends new pods to the injector. The webhook never sees the control plane's own namespace,
// kube-system, a namespace labelled `config.sluice.dev/admission-webhooks: disabled`, or a pod of the
// control plane; and `failurePolicy: Ignore` means a controller that is down delays no pod.
import type { V1ConfigMap, V1MutatingWebhookConfiguration, V1Namespace, V1Secret } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import type { Values } from '../inject/values.ts';
import type { IdentityCredentials, WebhookCredentials } from './credentials.ts';
import {
  ADMISSION_WEBHOOKS_LABEL,
  clusterMeta,
  commonLabels,
  COMPONENT_LABEL,
  CONFIG_MAP,
  ISSUER_SECRET,
  meta,
  SERVICES,
  TRUST_ROOTS_CONFIG_MAP,
  TRUST_ROOTS_KEY,
  WEBHOOK_CONFIGURATION,
  WEBHOOK_NAME,
  WEBHOOK_SECRET,
} from './names.ts';

const base64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');

export function controlPlaneNamespace(values: Values): V1Namespace {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: values.controlPlaneNamespace, labels: { ...commonLabels(values), [ADMISSION_WEBHOOKS_LABEL]: 'disabled' } },
  };
}

/** `sluice-config`: the values the control plane was installed with (YAML under `values`). */
export function valuesConfigMap(values: Values): V1ConfigMap {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta(values, CONFIG_MAP), data: { values: stringify(values, { lineWidth: 0 }) } };
}

export function trustRootsConfigMap(values: Values, identity: IdentityCredentials): V1ConfigMap {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta(values, TRUST_ROOTS_CONFIG_MAP), data: { [TRUST_ROOTS_KEY]: identity.anchorsPem } };
}

export function issuerSecret(values: Values, identity: IdentityCredentials): V1Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: meta(values, ISSUER_SECRET),
    type: 'kubernetes.io/tls',
    data: { 'tls.crt': base64(identity.issuerCertPem), 'tls.key': base64(identity.issuerKeyPem), 'ca.crt': base64(identity.anchorsPem) },
  };
}

export function webhookSecret(values: Values, webhook: WebhookCredentials): V1Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: meta(values, WEBHOOK_SECRET),
    type: 'kubernetes.io/tls',
    data: { 'tls.crt': base64(webhook.certPem), 'tls.key': base64(webhook.keyPem), 'ca.crt': base64(webhook.caPem) },
  };
}

export function webhookConfiguration(values: Values, webhook: WebhookCredentials): V1MutatingWebhookConfiguration {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: clusterMeta(values, `${WEBHOOK_CONFIGURATION}-${values.controlPlaneNamespace}`),
    webhooks: [
      {
        name: WEBHOOK_NAME,
        admissionReviewVersions: ['v1'],
        clientConfig: {
          service: { name: SERVICES.injector.name, namespace: values.controlPlaneNamespace, path: '/', port: SERVICES.injector.port },
          caBundle: base64(webhook.caPem),
        },
        failurePolicy: 'Ignore',
        sideEffects: 'None',
        reinvocationPolicy: 'Never',
        timeoutSeconds: 10,
        rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: 'Namespaced' }],
        namespaceSelector: {
          matchExpressions: [
            { key: ADMISSION_WEBHOOKS_LABEL, operator: 'NotIn', values: ['disabled'] },
            { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system', values.controlPlaneNamespace] },
          ],
        },
        objectSelector: { matchExpressions: [{ key: COMPONENT_LABEL, operator: 'DoesNotExist' }] },
      },
    ],
  };
}
