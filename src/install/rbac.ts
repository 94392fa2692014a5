// What the controller's service account may do, and nothing more. Read-only everywhere except the
// two reviews: discovery lists and watches (src/control/discovery/kubernetes/README.md), the webhook
// reads namespaces' annotations, Identity checks proxies' tokens (TokenReview); SubjectAccessReview is
// granted for tap authorization (Linkerd's tap asks it; Sluice's tap relay has no authorization yet).
// The issuer and webhook keys are mounted as files, so the controller needs no access to Secrets; it
// records no Events, so it may not create any.
import type { V1ClusterRole, V1ClusterRoleBinding, V1PolicyRule, V1ServiceAccount } from '@kubernetes/client-node';
import { PROFILE_GROUP, PROFILE_PLURAL } from '../control/discovery/kubernetes/profiles.ts';
import type { Values } from '../inject/values.ts';
import { POLICY_GROUP } from './crds.ts';
import { clusterMeta, clusterRoleName, meta, SERVICE_ACCOUNT } from './names.ts';

const READ = ['get', 'list', 'watch'];

export const CONTROLLER_RULES: readonly V1PolicyRule[] = [
  { apiGroups: [''], resources: ['pods', 'services', 'namespaces'], verbs: READ },
  { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: READ },
  { apiGroups: ['apps'], resources: ['replicasets', 'deployments', 'statefulsets', 'daemonsets'], verbs: READ },
  { apiGroups: ['batch'], resources: ['jobs', 'cronjobs'], verbs: READ },
  { apiGroups: [PROFILE_GROUP], resources: [PROFILE_PLURAL], verbs: READ },
  { apiGroups: [POLICY_GROUP], resources: ['servers', 'serverauthorizations'], verbs: READ },
  { apiGroups: ['authentication.k8s.io'], resources: ['tokenreviews'], verbs: ['create'] },
  { apiGroups: ['authorization.k8s.io'], resources: ['subjectaccessreviews'], verbs: ['create'] },
];

export function serviceAccount(values: Values): V1ServiceAccount {
  return { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta(values, SERVICE_ACCOUNT) };
}

export function clusterRole(values: Values): V1ClusterRole {
  return { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: clusterMeta(values, clusterRoleName(values)), rules: CONTROLLER_RULES.map((r) => ({ ...r })) };
}

export function clusterRoleBinding(values: Values): V1ClusterRoleBinding {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: clusterMeta(values, clusterRoleName(values)),
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: clusterRoleName(values) },
    subjects: [{ kind: 'ServiceAccount', name: SERVICE_ACCOUNT, namespace: values.controlPlaneNamespace }],
  };
}
