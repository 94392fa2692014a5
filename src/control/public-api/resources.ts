// How a resource (`deploy/web`, `po/web-1`, `ns/emojivoto`, `svc/web`, `au/web:80`) matches the
// reporting side or the destination side of a telemetry key.
import { isWorkloadType, type ResourceType } from '../../api/resource-types.ts';
import type { PodInfo } from '../discovery/types.ts';
import type { StatKey } from '../telemetry/store.ts';

export { canonicalType, isWorkloadType, type ResourceType } from '../../api/resource-types.ts';

export interface ResourceRef {
  readonly type: ResourceType;
  /** '' = every namespace (for a namespace resource, its name is the namespace). */
  readonly namespace: string;
  /** '' = every resource of the type. */
  readonly name: string;
}

/** The `<kind>/<name>` workload of a pod's owner, lower-case kind, or ''. */
export function workloadOf(pod: PodInfo): string {
  return pod.owner === undefined ? '' : `${pod.owner.kind.toLowerCase()}/${pod.owner.name}`;
}

/** Does the reporting (source) side of `key` belong to `ref`? Authorities match the requested authority. */
export function matchesSource(ref: ResourceRef, key: StatKey): boolean {
  switch (ref.type) {
    case 'namespace':
      return ref.name === '' || key.namespace === ref.name;
    case 'pod':
      return nsMatches(ref, key.namespace) && (ref.name === '' || key.pod === ref.name);
    case 'authority':
      return nsMatches(ref, key.namespace) && (ref.name === '' || key.authority === ref.name);
    case 'service':
      // A service does not send traffic; as a source it names nothing.
      return false;
    default:
      return nsMatches(ref, key.namespace) && workloadMatches(ref, key.workload);
  }
}

/** Does the destination side of an outbound `key` belong to `ref`? */
export function matchesDestination(ref: ResourceRef, key: StatKey): boolean {
  switch (ref.type) {
    case 'namespace':
      return key.dstNamespace !== '' && (ref.name === '' || key.dstNamespace === ref.name);
    case 'pod':
      return key.dstPod !== '' && nsMatches(ref, key.dstNamespace) && (ref.name === '' || key.dstPod === ref.name);
    case 'service':
      return (
        (key.dstService !== '' && nsMatches(ref, key.dstNamespace) && (ref.name === '' || key.dstService === ref.name)) ||
        // Route scopes carry no destination labels, only the authority they were sent to.
        (key.dstService === '' && ref.name !== '' && authorityNamesService(key.authority, ref.name, ref.namespace))
      );
    case 'authority':
      return ref.name === '' || key.authority === ref.name;
    default:
      return key.dstWorkload !== '' && nsMatches(ref, key.dstNamespace) && workloadMatches(ref, key.dstWorkload);
  }
}

/** The row name that the source side of `key` falls in for rows of `type`, or undefined. */
export function sourceName(type: ResourceType, key: StatKey): { namespace: string; name: string } | undefined {
  switch (type) {
    case 'namespace':
      return key.namespace === '' ? undefined : { namespace: '', name: key.namespace };
    case 'pod':
      return key.pod === '' ? undefined : { namespace: key.namespace, name: key.pod };
    case 'authority':
      return key.authority === '' ? undefined : { namespace: key.namespace, name: key.authority };
    case 'service':
      return undefined;
    default: {
      const prefix = `${type}/`;
      return key.workload.startsWith(prefix) ? { namespace: key.namespace, name: key.workload.slice(prefix.length) } : undefined;
    }
  }
}

/** The row name that the destination side of `key` falls in for rows of `type`, or undefined. */
export function destinationName(type: ResourceType, key: StatKey): { namespace: string; name: string } | undefined {
  switch (type) {
    case 'namespace':
      return key.dstNamespace === '' ? undefined : { namespace: '', name: key.dstNamespace };
    case 'pod':
      return key.dstPod === '' ? undefined : { namespace: key.dstNamespace, name: key.dstPod };
    case 'service':
      return key.dstService === '' ? undefined : { namespace: key.dstNamespace, name: key.dstService };
    case 'authority':
      return key.authority === '' ? undefined : { namespace: key.dstNamespace, name: key.authority };
    default: {
      const prefix = `${type}/`;
      return key.dstWorkload.startsWith(prefix) ? { namespace: key.dstNamespace, name: key.dstWorkload.slice(prefix.length) } : undefined;
    }
  }
}

function nsMatches(ref: ResourceRef, namespace: string): boolean {
  return ref.namespace === '' || ref.namespace === namespace;
}

function workloadMatches(ref: ResourceRef, workload: string): boolean {
  return ref.name === '' ? workload.startsWith(`${ref.type}/`) : workload === `${ref.type}/${ref.name}`;
}

/** `web`, `web:80`, `web.ns`, `web.ns.svc.cluster.local:80` all name service web (in namespace ns). */
export function authorityNamesService(authority: string, service: string, namespace: string): boolean {
  const host = authority.startsWith('[') ? '' : (authority.split(':')[0] ?? '');
  const labels = host.split('.');
  if (labels[0] !== service) return false;
  return labels.length === 1 || namespace === '' || labels[1] === namespace;
}
