// The mutating admission webhook's decision for one AdmissionReview (admission.k8s.io/v1): inject the
// pod when it or its namespace opted in, and answer with the JSON Patch. The answer is always
// `allowed: true`: an injector problem (a lookup that fails, a bug) must never stop a pod from being
// created, so it is logged and the pod is admitted unchanged (install sets `failurePolicy: Ignore` for
// the case where the webhook cannot be reached at all).
import { inject } from '../../inject/inject.ts';
import type { Values } from '../../inject/values.ts';
import type { Logger } from '../../log/logger.ts';
import type { InjectorLookup, Owner } from './kube-lookup.ts';

export interface ReviewDeps {
  readonly values: Values;
  /** `sluice/proxy-injector <version>`. */
  readonly createdBy: string;
  /** Undefined when the controller has no API access (file discovery): no namespace opt-in then. */
  readonly lookup: InjectorLookup | undefined;
  readonly log: Logger;
}

interface AdmissionRequest {
  uid?: unknown;
  kind?: { group?: string; version?: string; kind?: string };
  operation?: string;
  namespace?: string;
  object?: unknown;
}

export class BadReview extends Error {}

/** Parses the body; throws `BadReview` when it is not an AdmissionReview (that is not a pod to admit). */
export function parseReview(body: string): AdmissionRequest & { uid: string } {
  let review: { apiVersion?: unknown; kind?: unknown; request?: AdmissionRequest };
  try {
    review = JSON.parse(body) as typeof review;
  } catch (error) {
    throw new BadReview(`not JSON: ${(error as Error).message}`);
  }
  if (review?.kind !== 'AdmissionReview' || review.apiVersion !== 'admission.k8s.io/v1') {
    throw new BadReview('expected an admission.k8s.io/v1 AdmissionReview');
  }
  const request = review.request;
  if (typeof request?.uid !== 'string' || request.uid === '') throw new BadReview('the AdmissionReview has no request.uid');
  return request as AdmissionRequest & { uid: string };
}

function answer(uid: string, patch?: readonly unknown[]): Record<string, unknown> {
  const response: Record<string, unknown> = { uid, allowed: true };
  if (patch !== undefined && patch.length > 0) {
    response.patchType = 'JSONPatch';
    response.patch = Buffer.from(JSON.stringify(patch)).toString('base64');
  }
  return { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response };
}

/** The AdmissionReview response for `request`; never throws. */
export async function review(request: AdmissionRequest & { uid: string }, deps: ReviewDeps): Promise<Record<string, unknown>> {
  const { log } = deps;
  const isPod = request.kind?.kind === 'Pod' && (request.kind.group ?? '') === '';
  if (!isPod || request.operation !== 'CREATE') return answer(request.uid);
  const pod = request.object as { metadata?: { name?: string; generateName?: string; namespace?: string } } | undefined;
  const namespace = request.namespace ?? pod?.metadata?.namespace ?? '';
  const podName = `${namespace}/${pod?.metadata?.name ?? `${pod?.metadata?.generateName ?? ''}*`}`;
  try {
    let namespaceAnnotations: Record<string, string> | undefined;
    let owner: Owner | undefined;
    if (deps.lookup !== undefined) {
      // A failed lookup costs only the namespace opt-in / the workload name: log it and go on.
      namespaceAnnotations = await deps.lookup.namespaceAnnotations(namespace).catch((error: Error) => {
        log.warn('cannot read the namespace; only the pod annotation counts', { pod: podName, error: error.message });
        return undefined;
      });
      owner = await deps.lookup.owner(namespace, pod ?? {}).catch((error: Error) => {
        log.warn('cannot read the pod owner', { pod: podName, error: error.message });
        return undefined;
      });
    }
    const result = inject(request.object, {
      values: deps.values,
      createdBy: deps.createdBy,
      namespaceAnnotations,
      requireOptIn: true,
      skipInjected: true,
      namespace,
      owner,
    });
    for (const warning of result.warnings) log.warn('pod annotation', { pod: podName, warning });
    if (result.outcome === 'injected') {
      log.info('pod injected', { pod: podName, workload: owner === undefined ? '' : `${owner.kind}/${owner.name}` });
      return answer(request.uid, result.ops);
    }
    if (result.outcome === 'invalid') log.warn('pod not injected', { pod: podName, reason: result.reason });
    else log.debug('pod skipped', { pod: podName, reason: result.reason });
    return answer(request.uid);
  } catch (error) {
    log.error('injector failed; pod admitted unchanged', { pod: podName, error: String((error as Error)?.stack ?? error) });
    return answer(request.uid);
  }
}
