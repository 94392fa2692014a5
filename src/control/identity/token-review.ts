// Kubernetes authentication of a proxy's token: the projected service-account token (audience
// identity.sluice.dev) goes to the API server in a TokenReview, and the reviewed user
// `system:serviceaccount:<ns>:<sa>` is the service account the token proves. The controller needs
// RBAC `create` on `tokenreviews.authentication.k8s.io` (a ClusterRole, as Linkerd's identity has).
import type { AuthenticationV1Api, V1TokenReview } from '@kubernetes/client-node';
import { isDnsLabel } from '../../api/identity-name.ts';
import { TOKEN_AUDIENCE, type TokenValidator, type TokenVerdict } from './token.ts';

/** The one call this validator makes, so tests can hand in client-node's real API or a stand-in. */
export type CreateTokenReview = (body: V1TokenReview) => Promise<V1TokenReview>;

export function tokenReviewsOf(api: AuthenticationV1Api): CreateTokenReview {
  return (body) => api.createTokenReview({ body });
}

export class TokenReviewValidator implements TokenValidator {
  readonly kind = 'kubernetes';
  private readonly createTokenReview: CreateTokenReview;
  private readonly audience: string;

  constructor(createTokenReview: CreateTokenReview, audience = TOKEN_AUDIENCE) {
    this.createTokenReview = createTokenReview;
    this.audience = audience;
  }

  async validate(token: Uint8Array): Promise<TokenVerdict> {
    const review = await this.createTokenReview({
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenReview',
      spec: { token: Buffer.from(token).toString('utf8'), audiences: [this.audience] },
    });
    const result = review.status;
    // As Linkerd: an error from the authenticator means the token itself is bad.
    if (result?.error !== undefined && result.error !== '') return { kind: 'invalid', reason: result.error };
    if (result?.authenticated !== true) return { kind: 'unauthenticated', reason: 'authentication token could not be authenticated' };
    // The API server answers with the audiences the token is valid for among those asked; an empty
    // answer from an authenticator that ignores audiences is not proof of ours.
    if (!(result.audiences ?? []).includes(this.audience)) {
      return { kind: 'unauthenticated', reason: `token is not valid for audience ${this.audience}` };
    }
    const username = result.user?.username ?? '';
    const parts = username.split(':');
    const [system, type, namespace, serviceAccount] = parts;
    if (parts.length !== 4 || system !== 'system' || type !== 'serviceaccount' || namespace === undefined || serviceAccount === undefined) {
      return { kind: 'invalid', reason: `username must be in form system:serviceaccount:NS:SA: ${username}` };
    }
    for (const label of [namespace, serviceAccount]) {
      if (!isDnsLabel(label)) return { kind: 'invalid', reason: `not a label: ${label}` };
    }
    return { kind: 'authenticated', account: { serviceAccount, namespace } };
  }
}
