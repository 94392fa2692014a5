// ServiceProfiles: the custom resource `serviceprofiles.sluice.dev/v1alpha2` (Linkerd's schema), named
// after the Service's FQDN in the Service's namespace. `toProfileSpec` keeps what is well-formed and
// reports what it dropped, so that one bad route does not take a whole profile down.
import type { ProfileSpec, RequestMatchSpec, ResponseMatchSpec, RouteSpec, ServiceName } from '../types.ts';

export const PROFILE_GROUP = 'sluice.dev';
export const PROFILE_VERSION = 'v1alpha2';
export const PROFILE_PLURAL = 'serviceprofiles';

export function profileName(name: ServiceName, clusterDomain: string): string {
  return `${name.service}.${name.namespace}.svc.${clusterDomain}`;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const isString = (v: unknown): v is string => typeof v === 'string';
const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function optional<T>(object: Json, key: string, check: (v: unknown) => v is T): { ok: boolean; value: T | undefined } {
  const v = object[key];
  if (v === undefined || v === null) return { ok: true, value: undefined };
  return check(v) ? { ok: true, value: v } : { ok: false, value: undefined };
}

/** Copies the keys whose values are defined, so that absent fields stay absent. */
function defined<T extends object>(object: { [K in keyof T]: T[K] | undefined }): T {
  const out: Json = {};
  for (const [k, v] of Object.entries(object)) if (v !== undefined) out[k] = v;
  return out as T;
}

function matchList<T>(v: unknown, each: (v: unknown) => T | undefined): T[] | undefined | null {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) return null;
  const out = v.map(each);
  return out.every((m) => m !== undefined) ? (out as T[]) : null;
}

export function requestMatch(v: unknown): RequestMatchSpec | undefined {
  if (!isObject(v)) return undefined;
  const method = optional(v, 'method', isString);
  const pathRegex = optional(v, 'pathRegex', isString);
  const all = matchList(v['all'], requestMatch);
  const any = matchList(v['any'], requestMatch);
  const not = v['not'] === undefined || v['not'] === null ? undefined : requestMatch(v['not']);
  if (!method.ok || !pathRegex.ok || all === null || any === null) return undefined;
  if (v['not'] !== undefined && v['not'] !== null && not === undefined) return undefined;
  if (pathRegex.value !== undefined) {
    try {
      new RegExp(pathRegex.value);
    } catch {
      return undefined;
    }
  }
  return defined<RequestMatchSpec>({ method: method.value, pathRegex: pathRegex.value, all, any, not });
}

export function responseMatch(v: unknown): ResponseMatchSpec | undefined {
  if (!isObject(v)) return undefined;
  let status: ResponseMatchSpec['status'];
  if (v['status'] !== undefined && v['status'] !== null) {
    if (!isObject(v['status'])) return undefined;
    const min = optional(v['status'], 'min', isNumber);
    const max = optional(v['status'], 'max', isNumber);
    if (!min.ok || !max.ok) return undefined;
    status = defined({ min: min.value, max: max.value });
  }
  const all = matchList(v['all'], responseMatch);
  const any = matchList(v['any'], responseMatch);
  const not = v['not'] === undefined || v['not'] === null ? undefined : responseMatch(v['not']);
  if (all === null || any === null) return undefined;
  if (v['not'] !== undefined && v['not'] !== null && not === undefined) return undefined;
  return defined<ResponseMatchSpec>({ status, all, any, not });
}

function route(v: unknown): RouteSpec | undefined {
  if (!isObject(v) || !isString(v['name'])) return undefined;
  const condition = requestMatch(v['condition']);
  if (!condition) return undefined;
  const classes = matchList(v['responseClasses'], (c) => {
    if (!isObject(c)) return undefined;
    const cond = responseMatch(c['condition']);
    const isFailure = optional(c, 'isFailure', (x): x is boolean => typeof x === 'boolean');
    return cond && isFailure.ok ? defined({ condition: cond, isFailure: isFailure.value }) : undefined;
  });
  const isRetryable = optional(v, 'isRetryable', (x): x is boolean => typeof x === 'boolean');
  const timeout = optional(v, 'timeout', isString);
  if (classes === null || !isRetryable.ok || !timeout.ok) return undefined;
  return defined<RouteSpec>({ name: v['name'], condition, responseClasses: classes, isRetryable: isRetryable.value, timeout: timeout.value });
}

/** The `spec` of a ServiceProfile object as a ProfileSpec; `problems` collects what was dropped. */
export function toProfileSpec(object: unknown, problems: string[] = []): ProfileSpec {
  const spec = isObject(object) ? object['spec'] : undefined;
  if (!isObject(spec)) {
    if (spec !== undefined) problems.push('spec is not an object');
    return {};
  }
  let routes: RouteSpec[] | undefined;
  if (Array.isArray(spec['routes'])) {
    routes = [];
    for (const [i, r] of spec['routes'].entries()) {
      const ok = route(r);
      if (ok) routes.push(ok);
      else problems.push(`routes[${i}] is malformed`);
    }
  } else if (spec['routes'] !== undefined) problems.push('routes is not a list');

  let retryBudget: ProfileSpec['retryBudget'];
  const rb = spec['retryBudget'];
  if (isObject(rb) && isNumber(rb['retryRatio']) && isNumber(rb['minRetriesPerSecond']) && isString(rb['ttl'])) {
    retryBudget = { retryRatio: rb['retryRatio'], minRetriesPerSecond: rb['minRetriesPerSecond'], ttl: rb['ttl'] };
  } else if (rb !== undefined) problems.push('retryBudget is malformed');

  let dstOverrides: ProfileSpec['dstOverrides'];
  if (Array.isArray(spec['dstOverrides'])) {
    const list = spec['dstOverrides'].filter((d): d is { authority: string; weight: number | string } => {
      const ok = isObject(d) && isString(d['authority']) && (isNumber(d['weight']) || isString(d['weight']));
      if (!ok) problems.push('a dstOverride is malformed');
      return ok;
    });
    dstOverrides = list.map((d) => ({ authority: d.authority, weight: d.weight }));
  } else if (spec['dstOverrides'] !== undefined) problems.push('dstOverrides is not a list');

  let opaquePorts: number[] | undefined;
  if (Array.isArray(spec['opaquePorts'])) {
    opaquePorts = spec['opaquePorts'].filter((p): p is number => {
      const ok = Number.isInteger(p) && (p as number) > 0 && (p as number) < 65536;
      if (!ok) problems.push(`opaque port ${JSON.stringify(p)} is not a port number`);
      return ok;
    });
  } else if (spec['opaquePorts'] !== undefined) problems.push('opaquePorts is not a list');

  return defined<ProfileSpec>({ routes, retryBudget, dstOverrides, opaquePorts });
}
