// Tap's place in Kubernetes RBAC, shared by the controller (which asks SubjectAccessReviews in these
// terms and names the roles when it denies) and `sluice install` (which prints the roles): as Linkerd
// viz does with `tap.linkerd.io`, tapping a resource is the verb `watch` on the subresource `tap` of
// that resource's kind, in an API group no server serves — a name for RBAC rules only.

export const TAP_API_GROUP = 'tap.sluice.dev';
export const TAP_API_VERSION = 'v1alpha1';
export const TAP_VERB = 'watch';
export const TAP_SUBRESOURCE = 'tap';

/** Plural resource names whose `tap` subresource a user may be granted (`deployments/tap` …). */
export const TAPPABLE_RESOURCES = ['deployments', 'statefulsets', 'daemonsets', 'jobs', 'cronjobs', 'replicationcontrollers', 'replicasets', 'pods', 'namespaces'] as const;

/**
 * The ClusterRoles install prints, named like the controller's (`<name>-<control-plane-ns>`) so that two
 * installs cannot collide: `sluice-tap-<ns>` taps workloads and pods (bind it per namespace with a
 * RoleBinding), `sluice-tap-admin-<ns>` taps anything, whole namespaces included.
 */
export function tapClusterRoleNames(controlPlaneNamespace: string): { readonly tap: string; readonly admin: string } {
  return { tap: `sluice-tap-${controlPlaneNamespace}`, admin: `sluice-tap-admin-${controlPlaneNamespace}` };
}
