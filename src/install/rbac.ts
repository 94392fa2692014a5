// What the controller's service account may do, and nothing more. Read-only everywhere except the
// two reviews: discovery lists and watches (src/control/discovery/kubernetes/README.md), the webhook
// reads namespaces' annotations, Identity checks proxies' tokens and tap its callers' (TokenReview),
// and tap asks whether a caller may tap a resource (SubjectAccessReview, as Linkerd viz does).
// The issuer and webhook keys are mounted as files, so the controller needs no access to Secrets; it
// records no Events, so it may not create any.
//
// Tap's own roles, for users (src/api/tap-rbac.ts): `sluice-tap-<ns>` (watch the tap subresource of
// workloads and pods; bind it per namespace) and `sluice-tap-admin-<ns>` (tap anything). The dashboard
// runs in the controller and taps as its service account, which the one binding here gives the admin
// role, as Linkerd binds its web's account to tap-admin; delete that binding to keep the dashboard from
// tapping.
import type { V1ClusterRole, V1ClusterRoleBinding, V1PolicyRule, V1ServiceAccount } from '@kubernetes/client-node';
import { PROFILE_GROUP, PROFILE_PLURAL } from '../control/discovery/kubernetes/profiles.ts';
import type { Values } from '../inject/values.ts';
import { TAP_API_GROUP, TAP_SUBRESOURCE, TAP_VERB, TAPPABLE_RESOURCES, tapClusterRoleNames } from '../api/tap-rbac.ts';
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

/** `sluice-tap-<ns>` (workloads and pods) and `sluice-tap-admin-<ns>` (everything) for users' bindings. */
export function tapClusterRoles(values: Values): V1ClusterRole[] {
  const names = tapClusterRoleNames(values.controlPlaneNamespace);
  const workloads = TAPPABLE_RESOURCES.filter((r) => r !== 'namespaces').map((r) => `${r}/${TAP_SUBRESOURCE}`);
  return [
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: clusterMeta(values, names.tap), rules: [{ apiGroups: [TAP_API_GROUP], resources: workloads, verbs: [TAP_VERB] }] },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: clusterMeta(values, names.admin), rules: [{ apiGroups: [TAP_API_GROUP], resources: ['*'], verbs: [TAP_VERB] }] },
  ];
}

/** The dashboard (in the controller) taps as the controller's service account: bound to the admin role. */
export function dashboardTapBinding(values: Values): V1ClusterRoleBinding {
  const name = `sluice-dashboard-tap-${values.controlPlaneNamespace}`;
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: clusterMeta(values, name),
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: tapClusterRoleNames(values.controlPlaneNamespace).admin },
    subjects: [{ kind: 'ServiceAccount', name: SERVICE_ACCOUNT, namespace: values.controlPlaneNamespace }],
  };
}
