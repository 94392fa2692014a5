// Who may tap what, decided before the relay calls any proxy.
//
// In Kubernetes the caller proves who they are with the bearer token of their kubeconfig user, sent as
// `authorization: Bearer …` (`sluice tap` forwards it; see docs/cli.md for which users have one). The
// controller asks the API server who that is (a TokenReview, for the API server's own audience), then
// whether that user may tap the target (a SubjectAccessReview, as Linkerd viz does: verb `watch` on the
// subresource `tap` of the target's kind in the group tap.sluice.dev, e.g. `deployments/tap` in the
// target's namespace, for its name). No token → UNAUTHENTICATED; a token the API server does not
// accept → UNAUTHENTICATED; a user without the permission → PERMISSION_DENIED naming the permission and
// the roles that grant it.
//
// Without Kubernetes (the local mesh, file discovery) every caller who reaches the public API may tap:
// it listens on loopback there, so that is whoever can run programs on the machine.
import type { V1SubjectAccessReview, V1TokenReview } from '@kubernetes/client-node';
import { GrpcStatusCode } from '../../api/grpc-status.ts';
import { TAP_API_GROUP, TAP_API_VERSION, TAP_SUBRESOURCE, TAP_VERB, tapClusterRoleNames } from '../../api/tap-rbac.ts';
import type { CallerCredentials } from '../context.ts';
import { TapRequestError, type Resource } from './resolve.ts';

const { UNAUTHENTICATED, PERMISSION_DENIED, UNAVAILABLE } = GrpcStatusCode;

export interface TapAuthorizer {
  /** `open` (everyone may tap) or `kubernetes` (TokenReview + SubjectAccessReview). */
  readonly kind: 'open' | 'kubernetes';
  /** Resolves with who the caller is when they may tap `target`; rejects with a TapRequestError saying why not. */
  authorize(caller: CallerCredentials | undefined, target: Resource): Promise<string>;
}

export const openTapAuthorizer: TapAuthorizer = { kind: 'open', authorize: async () => 'anyone (no Kubernetes)' };

/** The two calls the Kubernetes authorizer makes, so tests can hand in client-node's real APIs or stand-ins. */
export interface KubernetesReviews {
  createTokenReview(body: V1TokenReview): Promise<V1TokenReview>;
  createSubjectAccessReview(body: V1SubjectAccessReview): Promise<V1SubjectAccessReview>;
}

/** The SubjectAccessReview resource attributes of tapping `target`. Pure. */
export function tapAttributes(target: Resource): { verb: string; group: string; version: string; resource: string; subresource: string; namespace: string; name: string } {
  const base = { verb: TAP_VERB, group: TAP_API_GROUP, version: TAP_API_VERSION, subresource: TAP_SUBRESOURCE };
  if (target.type === 'namespace') return { ...base, resource: 'namespaces', namespace: target.name, name: target.name };
  return { ...base, resource: `${target.type}s`, namespace: target.namespace, name: target.name };
}

/** `Bearer <token>` → the token; undefined for anything else. */
export function bearerToken(authorization: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  return match?.[1];
}

interface ReviewedUser {
  readonly username: string;
  readonly uid?: string;
  readonly groups?: string[];
  readonly extra?: { [key: string]: string[] };
}

export class KubernetesTapAuthorizer implements TapAuthorizer {
  readonly kind = 'kubernetes';
  private readonly reviews: KubernetesReviews;
  private readonly controlPlaneNamespace: string;

  constructor(reviews: KubernetesReviews, controlPlaneNamespace: string) {
    this.reviews = reviews;
    this.controlPlaneNamespace = controlPlaneNamespace;
  }

  async authorize(caller: CallerCredentials | undefined, target: Resource): Promise<string> {
    const user = await this.authenticate(caller);
    const attributes = tapAttributes(target);
    let review: V1SubjectAccessReview;
    try {
      review = await this.reviews.createSubjectAccessReview({
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SubjectAccessReview',
        spec: {
          user: user.username,
          ...(user.uid === undefined ? {} : { uid: user.uid }),
          ...(user.groups === undefined ? {} : { groups: user.groups }),
          ...(user.extra === undefined ? {} : { extra: user.extra }),
          resourceAttributes: attributes,
        },
      });
    } catch (error) {
      throw new TapRequestError(UNAVAILABLE, `cannot check tap permission with the Kubernetes API (SubjectAccessReview): ${(error as Error).message}`);
    }
    if (review.status?.allowed === true && review.status.denied !== true) return user.username;
    const where = attributes.namespace === '' ? 'in every namespace' : `in namespace ${attributes.namespace}`;
    const what = `${attributes.resource}/${attributes.subresource}${attributes.name === '' ? '' : ` (${attributes.name})`}`;
    const roles = tapClusterRoleNames(this.controlPlaneNamespace);
    const reason = review.status?.reason ? ` (${review.status.reason})` : '';
    throw new TapRequestError(
      PERMISSION_DENIED,
      `tap denied: user "${user.username}" may not ${attributes.verb} ${what} ${where} in API group ${attributes.group}${reason}. ` +
        `The ClusterRoles ${roles.tap} (workloads and pods) and ${roles.admin} (anything) grant it, e.g. ` +
        `kubectl create rolebinding tap-${safeName(user.username)} --clusterrole=${target.type === 'namespace' ? roles.admin : roles.tap} --user=${user.username}${attributes.namespace === '' ? '' : ` -n ${attributes.namespace}`}`,
    );
  }

  /** The user behind the caller's bearer token, by TokenReview. */
  private async authenticate(caller: CallerCredentials | undefined): Promise<ReviewedUser> {
    const token = bearerToken(caller?.authorization);
    if (token === undefined) {
      throw new TapRequestError(
        UNAUTHENTICATED,
        'tap needs your Kubernetes credentials: send the bearer token of your kubeconfig user (sluice tap does, to a port-forwarded or https public API); users that authenticate with a client certificate have none to forward',
      );
    }
    let review: V1TokenReview;
    try {
      // No audiences: the API server's own, which a kubeconfig user's token is for.
      review = await this.reviews.createTokenReview({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } });
    } catch (error) {
      throw new TapRequestError(UNAVAILABLE, `cannot check your credentials with the Kubernetes API (TokenReview): ${(error as Error).message}`);
    }
    const status = review.status;
    const username = status?.user?.username;
    if (status?.authenticated !== true || username === undefined || username === '') {
      throw new TapRequestError(UNAUTHENTICATED, `the Kubernetes API does not accept your token${status?.error ? `: ${status.error}` : ''}`);
    }
    return { username, uid: status.user?.uid, groups: status.user?.groups, extra: status.user?.extra };
  }
}

/** A user name as part of an object name (RoleBinding names are DNS subdomains). */
function safeName(username: string): string {
  return username.toLowerCase().replace(/[^a-z0-9.-]+/g, '-').replace(/^[-.]+|[-.]+$/g, '').slice(0, 50) || 'user';
}
