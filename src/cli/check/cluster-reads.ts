// What `sluice check` reads from the cluster, once per run: the clients, and the identity, webhook and
// data-plane objects several checks look at (memoised in the run's context). Errors are thrown with
// the object that is missing or malformed; the checks turn them into failures.
import type {
  AdmissionregistrationV1Api,
  ApiextensionsV1Api,
  AppsV1Api,
  AuthorizationV1Api,
  CoreV1Api,
  KubeConfig,
  RbacAuthorizationV1Api,
  V1Pod,
  VersionApi,
} from '@kubernetes/client-node';
import { parseCertificatesPem, type Certificate } from '../../control/identity/pki.ts';
import { PROXY_CONTAINER } from '../../inject/sidecar.ts';
import { ISSUER_SECRET, TRUST_ROOTS_CONFIG_MAP, TRUST_ROOTS_KEY, WEBHOOK_CONFIGURATION, WEBHOOK_SECRET } from '../../install/names.ts';

export interface CheckContext {
  readonly namespace: string;
  readonly cliVersion: string;
  /** Only pods in this namespace for --proxy; undefined = all namespaces. */
  readonly proxyNamespace: string | undefined;
  readonly now: Date;
  readonly kube: () => Promise<KubeClients>;
  /** Memoised reads shared by several checks. */
  readonly memo: Map<string, Promise<unknown>>;
}

export interface KubeClients {
  readonly config: KubeConfig;
  readonly core: CoreV1Api;
  readonly apps: AppsV1Api;
  readonly apiextensions: ApiextensionsV1Api;
  readonly admission: AdmissionregistrationV1Api;
  readonly rbac: RbacAuthorizationV1Api;
  readonly authorization: AuthorizationV1Api;
  readonly version: VersionApi;
}

export async function kubeClients(config: KubeConfig): Promise<KubeClients> {
  const k8s = await import('@kubernetes/client-node');
  return {
    config,
    core: config.makeApiClient(k8s.CoreV1Api),
    apps: config.makeApiClient(k8s.AppsV1Api),
    apiextensions: config.makeApiClient(k8s.ApiextensionsV1Api),
    admission: config.makeApiClient(k8s.AdmissionregistrationV1Api),
    rbac: config.makeApiClient(k8s.RbacAuthorizationV1Api),
    authorization: config.makeApiClient(k8s.AuthorizationV1Api),
    version: config.makeApiClient(k8s.VersionApi),
  };
}

export const isNotFound = (error: unknown): boolean => (error as { code?: number }).code === 404;

export function memo<T>(ctx: CheckContext, key: string, read: () => Promise<T>): Promise<T> {
  let found = ctx.memo.get(key) as Promise<T> | undefined;
  if (found === undefined) {
    found = read();
    ctx.memo.set(key, found);
  }
  return found;
}

/** Reads an object; `undefined` when it does not exist, other errors thrown. */
export async function maybe<T>(read: () => Promise<T>): Promise<T | undefined> {
  try {
    return await read();
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

// ── identity material ──────────────────────────────────────────────────────────────────────────

export interface IdentityMaterial {
  readonly anchors: Certificate[];
  readonly issuer: Certificate;
  readonly chain: Certificate[];
  readonly issuerKeyPem: string;
}

export function identityMaterial(ctx: CheckContext): Promise<IdentityMaterial> {
  return memo(ctx, 'identity', async () => {
    const { core } = await ctx.kube();
    const roots = await maybe(() => core.readNamespacedConfigMap({ name: TRUST_ROOTS_CONFIG_MAP, namespace: ctx.namespace }));
    if (roots === undefined) throw new Error(`ConfigMap ${ctx.namespace}/${TRUST_ROOTS_CONFIG_MAP} not found`);
    const secret = await maybe(() => core.readNamespacedSecret({ name: ISSUER_SECRET, namespace: ctx.namespace }));
    if (secret === undefined) throw new Error(`Secret ${ctx.namespace}/${ISSUER_SECRET} not found`);
    const anchorsPem = roots.data?.[TRUST_ROOTS_KEY] ?? '';
    const decode = (key: string): string => Buffer.from(secret.data?.[key] ?? '', 'base64').toString('utf8');
    const anchors = parseCertificatesPem(anchorsPem);
    if (anchors.length === 0) throw new Error(`ConfigMap ${ctx.namespace}/${TRUST_ROOTS_CONFIG_MAP} has no certificate under ${TRUST_ROOTS_KEY}`);
    const [issuer, ...chain] = parseCertificatesPem(decode('tls.crt'));
    if (issuer === undefined) throw new Error(`Secret ${ctx.namespace}/${ISSUER_SECRET} has no certificate under tls.crt`);
    return { anchors, issuer, chain, issuerKeyPem: decode('tls.key') };
  });
}

export interface WebhookMaterial {
  readonly caBundle: Certificate[];
  readonly served: Certificate;
}

export function webhookMaterial(ctx: CheckContext): Promise<WebhookMaterial> {
  return memo(ctx, 'webhook', async () => {
    const { admission, core } = await ctx.kube();
    const name = `${WEBHOOK_CONFIGURATION}-${ctx.namespace}`;
    const configuration = await maybe(() => admission.readMutatingWebhookConfiguration({ name }));
    if (configuration === undefined) throw new Error(`MutatingWebhookConfiguration ${name} not found`);
    const caBundleB64 = configuration.webhooks?.[0]?.clientConfig.caBundle;
    if (caBundleB64 === undefined || caBundleB64 === '') throw new Error(`MutatingWebhookConfiguration ${name} has no caBundle`);
    const caBundle = parseCertificatesPem(Buffer.from(caBundleB64, 'base64').toString('utf8'));
    const secret = await maybe(() => core.readNamespacedSecret({ name: WEBHOOK_SECRET, namespace: ctx.namespace }));
    if (secret === undefined) throw new Error(`Secret ${ctx.namespace}/${WEBHOOK_SECRET} not found`);
    const [served] = parseCertificatesPem(Buffer.from(secret.data?.['tls.crt'] ?? '', 'base64').toString('utf8'));
    if (served === undefined) throw new Error(`Secret ${ctx.namespace}/${WEBHOOK_SECRET} has no certificate under tls.crt`);
    return { caBundle, served };
  });
}

// ── pods ───────────────────────────────────────────────────────────────────────────────────────

export function podProblem(pod: V1Pod, container?: string): string | undefined {
  const name = pod.metadata?.name ?? '?';
  const phase = pod.status?.phase ?? 'Unknown';
  if (phase !== 'Running') return `pod ${name} is ${phase}`;
  const statuses = [...(pod.status?.containerStatuses ?? []), ...(pod.status?.initContainerStatuses ?? [])];
  if (container !== undefined) {
    const status = statuses.find((s) => s.name === container);
    if (status?.ready !== true) return `pod ${name}: container ${container} is not ready`;
    return undefined;
  }
  const ready = pod.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
  return ready ? undefined : `pod ${name} is not ready`;
}

export function hasProxy(pod: V1Pod): boolean {
  return [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])].some((c) => c.name === PROXY_CONTAINER);
}

/** The proxy's version: the annotation injection writes, else the proxy image's tag. */
export function proxyVersion(pod: V1Pod): string {
  const annotated = pod.metadata?.annotations?.['sluice.dev/proxy-version'];
  if (annotated !== undefined) return annotated;
  const image = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])].find((c) => c.name === PROXY_CONTAINER)?.image ?? '';
  const colon = image.lastIndexOf(':');
  return colon > image.lastIndexOf('/') ? image.slice(colon + 1) : 'unknown';
}

export function dataPlanePods(ctx: CheckContext): Promise<V1Pod[]> {
  return memo(ctx, 'data-plane-pods', async () => {
    const { core } = await ctx.kube();
    const list = ctx.proxyNamespace === undefined ? await core.listPodForAllNamespaces({}) : await core.listNamespacedPod({ namespace: ctx.proxyNamespace });
    return list.items.filter(hasProxy);
  });
}
