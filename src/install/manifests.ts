// The whole control plane as a list of Kubernetes objects, in the order `kubectl apply -f -` should
// create them (what an object refers to comes before it; the webhook last, once something serves it),
// and the same list reversed, without secrets' data, for `sluice uninstall | kubectl delete -f -`.
// Pure: credentials come in made; rendering is deterministic for the same input.
import { createHash } from 'node:crypto';
import type {
  V1ClusterRole,
  V1ClusterRoleBinding,
  V1ConfigMap,
  V1Deployment,
  V1MutatingWebhookConfiguration,
  V1Namespace,
  V1PodDisruptionBudget,
  V1Secret,
  V1Service,
  V1ServiceAccount,
} from '@kubernetes/client-node';
import { stringify } from 'yaml';
import type { Values } from '../inject/values.ts';
import { controlPlaneNamespace, issuerSecret, trustRootsConfigMap, valuesConfigMap, webhookConfiguration, webhookSecret } from './config-objects.ts';
import { controllerDeployment, controllerDisruptionBudget, controllerServices } from './controller.ts';
import type { IdentityCredentials, WebhookCredentials } from './credentials.ts';
import { customResourceDefinitions, type CustomResourceDefinition } from './crds.ts';
import { commonLabels } from './names.ts';
import { clusterRole, clusterRoleBinding, dashboardTapBinding, serviceAccount, tapClusterRoles } from './rbac.ts';

export interface InstallInput {
  /** With `identity.trustAnchorsPEM` equal to `identity.anchorsPem`. */
  readonly values: Values;
  readonly ha: boolean;
  readonly identity: IdentityCredentials;
  readonly webhook: WebhookCredentials;
}

/** Every kind `install` prints. */
export type ManifestObject =
  | V1Namespace
  | CustomResourceDefinition
  | V1ClusterRole
  | V1ClusterRoleBinding
  | V1ServiceAccount
  | V1ConfigMap
  | V1Secret
  | V1Service
  | V1Deployment
  | V1PodDisruptionBudget
  | V1MutatingWebhookConfiguration;

/** What `kubectl delete` needs to find an object. */
export interface ObjectRef {
  readonly apiVersion: string | undefined;
  readonly kind: string | undefined;
  readonly metadata: { readonly name: string | undefined; readonly namespace?: string };
}

function checksum(input: InstallInput, valuesYaml: string): string {
  const hash = createHash('sha256');
  for (const part of [valuesYaml, input.identity.anchorsPem, input.identity.issuerCertPem, input.webhook.certPem]) hash.update(part).update('\0');
  return hash.digest('hex').slice(0, 16);
}

export function installObjects(input: InstallInput): ManifestObject[] {
  const { values, ha } = input;
  const config = valuesConfigMap(values);
  const objects: ManifestObject[] = [
    controlPlaneNamespace(values),
    ...customResourceDefinitions(commonLabels(values)),
    clusterRole(values),
    clusterRoleBinding(values),
    ...tapClusterRoles(values),
    dashboardTapBinding(values),
    serviceAccount(values),
    config,
    trustRootsConfigMap(values, input.identity),
    issuerSecret(values, input.identity),
    webhookSecret(values, input.webhook),
    ...controllerServices(values),
    controllerDeployment(values, { ha, configChecksum: checksum(input, config.data?.['values'] ?? '') }),
    ...(ha ? [controllerDisruptionBudget(values)] : []),
    webhookConfiguration(values, input.webhook),
  ];
  return objects;
}

/** What `kubectl delete -f -` needs of each installed object: kind, name, namespace; last created first. */
export function uninstallObjects(installed: readonly ManifestObject[]): ObjectRef[] {
  return [...installed].reverse().map((o) => {
    const namespace = o.metadata !== undefined && 'namespace' in o.metadata ? o.metadata.namespace : undefined;
    return { apiVersion: o.apiVersion, kind: o.kind, metadata: { name: o.metadata?.name, ...(namespace === undefined ? {} : { namespace }) } };
  });
}

/** Several YAML documents, each starting with `---`, PEMs as block literals (never folded). */
export function renderYaml(objects: readonly (ManifestObject | ObjectRef)[], header?: string): string {
  const documents = objects.map((o) => `---\n${stringify(o, { lineWidth: 0, blockQuote: 'literal', aliasDuplicateObjects: false })}`);
  return (header === undefined ? '' : `${header.replace(/^/gm, '# ')}\n`) + documents.join('');
}
