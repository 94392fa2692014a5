// The annotations and labels injection reads and writes (Linkerd's `linkerd.io/*` and
// `config.linkerd.io/*` twins), and how `config.sluice.dev/*` annotations override the values. Pure.
import { checkValuesOverride, mergeValues, ValuesError, type Values, type ValuesOverride } from './values.ts';

export const INJECT_ANNOTATION = 'sluice.dev/inject';
export const PROXY_VERSION_ANNOTATION = 'sluice.dev/proxy-version';
export const CREATED_BY_ANNOTATION = 'sluice.dev/created-by';
export const CONTROL_PLANE_NS_LABEL = 'sluice.dev/control-plane-ns';
export const WORKLOAD_NS_LABEL = 'sluice.dev/workload-ns';
export const CONFIG_PREFIX = 'config.sluice.dev/';

/** `sluice.dev/proxy-deployment`, `sluice.dev/proxy-statefulset`, … */
export function proxyWorkloadLabel(workloadName: string): string {
  return `sluice.dev/proxy-${workloadName}`;
}

/** Recognises every label `proxyWorkloadLabel` can produce (uninject removes whichever is there). */
export function isProxyWorkloadLabel(key: string): boolean {
  return /^sluice\.dev\/proxy-(deployment|statefulset|daemonset|replicaset|replicationcontroller|job|cronjob)$/.test(key);
}

export type InjectMode = 'enabled' | 'disabled' | undefined;

/** Reads `sluice.dev/inject`; anything but enabled/disabled is an error message. */
export function injectMode(annotations: Readonly<Record<string, unknown>> | undefined): InjectMode | { error: string } {
  const value = annotations?.[INJECT_ANNOTATION];
  if (value === undefined) return undefined;
  if (value === 'enabled' || value === 'disabled') return value;
  return { error: `${INJECT_ANNOTATION}: ${JSON.stringify(value)} is not enabled or disabled` };
}

const enabledDisabled = (name: string, text: string): boolean => {
  if (text === 'enabled' || text === 'true') return true;
  if (text === 'disabled' || text === 'false') return false;
  throw new ValuesError(CONFIG_PREFIX + name, 'value', `${JSON.stringify(text)} is not enabled or disabled`);
};

const integerText = (text: string): number | string => (/^[0-9]+$/.test(text) ? Number(text) : text);

/** Each `config.sluice.dev/<name>` and the values field it sets. */
const CONFIG_ANNOTATIONS: Readonly<Record<string, (text: string, name: string) => ValuesOverride>> = {
  'skip-inbound-ports': (t) => ({ proxyInit: { skipInboundPorts: t } }),
  'skip-outbound-ports': (t) => ({ proxyInit: { skipOutboundPorts: t } }),
  'opaque-ports': (t) => ({ proxy: { opaquePorts: t } }),
  'proxy-log-level': (t) => ({ proxy: { logLevel: t } }),
  'proxy-log-format': (t) => ({ proxy: { logFormat: t as 'plain' } }),
  'proxy-cpu-request': (t) => ({ proxy: { resources: { cpu: { request: t } } } }),
  'proxy-cpu-limit': (t) => ({ proxy: { resources: { cpu: { limit: t } } } }),
  'proxy-memory-request': (t) => ({ proxy: { resources: { memory: { request: t } } } }),
  'proxy-memory-limit': (t) => ({ proxy: { resources: { memory: { limit: t } } } }),
  'proxy-image': (t) => ({ proxy: { image: { name: t } } }),
  'proxy-version': (t) => ({ proxy: { image: { version: t } } }),
  'proxy-init-image': (t) => ({ proxyInit: { image: { name: t } } }),
  'proxy-init-image-version': (t) => ({ proxyInit: { image: { version: t } } }),
  'proxy-uid': (t) => ({ proxy: { uid: integerText(t) as number } }),
  'proxy-await': (t, name) => ({ proxy: { await: enabledDisabled(name, t) } }),
  'default-inbound-policy': (t) => ({ proxy: { defaultInboundPolicy: t } }),
  'proxy-require-identity-inbound-ports': (t) => ({ proxy: { requireIdentityInboundPorts: t } }),
};

export const CONFIG_ANNOTATION_NAMES: readonly string[] = Object.keys(CONFIG_ANNOTATIONS).map((n) => CONFIG_PREFIX + n);

export interface PodConfig {
  readonly values: Values;
  /** Unknown `config.sluice.dev/*` annotations: ignored, but worth telling the user. */
  readonly warnings: readonly string[];
}

/**
 * The values for one pod: the base values with each annotation layer's `config.sluice.dev/*` over
 * them, later layers winning (namespace, then the workload, then the pod template). Throws
 * `ValuesError` naming the annotation when a value is bad.
 */
export function podConfig(base: Values, layers: readonly (Readonly<Record<string, unknown>> | undefined)[]): PodConfig {
  const overrides: ValuesOverride[] = [];
  const warnings: string[] = [];
  for (const annotations of layers) {
    for (const [key, value] of Object.entries(annotations ?? {})) {
      if (!key.startsWith(CONFIG_PREFIX)) continue;
      const name = key.slice(CONFIG_PREFIX.length);
      const toOverride = Object.hasOwn(CONFIG_ANNOTATIONS, name) ? CONFIG_ANNOTATIONS[name] : undefined;
      if (toOverride === undefined) {
        warnings.push(`${key}: unknown annotation, ignored`);
        continue;
      }
      if (typeof value !== 'string') throw new ValuesError(key, 'value', `expected a string, got ${JSON.stringify(value)}`);
      overrides.push(checkValuesOverride(toOverride(value.trim(), name), { name: key }));
    }
  }
  return { values: mergeValues(base, ...overrides), warnings };
}
