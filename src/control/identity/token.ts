// How the identity service learns who is asking: a validator turns the request's token into the
// service account it proves. Two exist — Kubernetes TokenReview (token-review.ts) and the local
// mesh's HMAC tokens (local-token.ts) — and the service maps their verdicts to Linkerd's status codes.
import type { ServiceAccountRef } from '../../api/identity-name.ts';

/** The audience projected service-account tokens are minted for (Linkerd's is `identity.l5d.io`). */
export const TOKEN_AUDIENCE = 'identity.sluice.dev';

export type TokenVerdict =
  | { readonly kind: 'authenticated'; readonly account: ServiceAccountRef }
  /** The token is malformed or names no service account: INVALID_ARGUMENT, as Linkerd's InvalidToken. */
  | { readonly kind: 'invalid'; readonly reason: string }
  /** The token is well-formed but not authentic (forged, expired, wrong audience): FAILED_PRECONDITION. */
  | { readonly kind: 'unauthenticated'; readonly reason: string };

export interface TokenValidator {
  /** For logs: `kubernetes` or `local`. */
  readonly kind: string;
  /** Rejects only when the validator itself fails (API server unreachable): INTERNAL. */
  validate(token: Uint8Array): Promise<TokenVerdict>;
}
