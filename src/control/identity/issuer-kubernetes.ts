// The issuer from Kubernetes: the Secret `sluice-identity-issuer` (kubernetes.io/tls: `tls.crt`,
// `tls.key`, and `ca.crt` as cert-manager writes it) and the trust anchors from the ConfigMap
// `sluice-identity-trust-roots` (`ca-bundle.crt`), both in the control-plane namespace. One informer
// each, narrowed to the one object, so an update (rotation by hand or by cert-manager) reaches the
// controller without a restart. The anchors come from the ConfigMap, not the Secret's `ca.crt`:
// the ConfigMap is what proxies are given, so it is what the issuer must chain to.
import { CoreV1Api, type KubeConfig, type V1ConfigMap, type V1Secret } from '@kubernetes/client-node';
import type { Logger } from '../../log/logger.ts';
import { ResilientInformer } from '../discovery/kubernetes/informers.ts';
import type { IssuerMaterial } from './issuer.ts';

export const ISSUER_SECRET = 'sluice-identity-issuer';
export const TRUST_ROOTS_CONFIGMAP = 'sluice-identity-trust-roots';
export const TRUST_ROOTS_KEY = 'ca-bundle.crt';

/** The issuer material in the two objects, or what is missing from them. */
export function issuerMaterialOf(
  namespace: string,
  secret: V1Secret | undefined,
  configMap: V1ConfigMap | undefined,
): IssuerMaterial | { readonly missing: string } {
  if (secret === undefined) return { missing: `Secret ${namespace}/${ISSUER_SECRET}` };
  if (configMap === undefined) return { missing: `ConfigMap ${namespace}/${TRUST_ROOTS_CONFIGMAP}` };
  const field = (key: string): string | undefined => {
    const value = secret.data?.[key];
    return value === undefined ? secret.stringData?.[key] : Buffer.from(value, 'base64').toString('utf8');
  };
  const certificatePem = field('tls.crt');
  const keyPem = field('tls.key');
  const anchorsPem = configMap.data?.[TRUST_ROOTS_KEY];
  if (certificatePem === undefined) return { missing: `tls.crt in Secret ${namespace}/${ISSUER_SECRET}` };
  if (keyPem === undefined) return { missing: `tls.key in Secret ${namespace}/${ISSUER_SECRET}` };
  if (anchorsPem === undefined) return { missing: `${TRUST_ROOTS_KEY} in ConfigMap ${namespace}/${TRUST_ROOTS_CONFIGMAP}` };
  return {
    certificatePem,
    keyPem,
    anchorsPem,
    origin: `Secret ${namespace}/${ISSUER_SECRET}, ConfigMap ${namespace}/${TRUST_ROOTS_CONFIGMAP}`,
  };
}

export interface KubernetesIssuerSourceOptions {
  readonly kubeConfig: KubeConfig;
  readonly namespace: string;
  readonly log: Logger;
  /** Called with complete material after either object changes (not for the initial state). */
  readonly onChange: (material: IssuerMaterial) => void;
}

export class KubernetesIssuerSource {
  private readonly options: KubernetesIssuerSourceOptions;
  private readonly secrets: ResilientInformer<V1Secret>;
  private readonly configMaps: ResilientInformer<V1ConfigMap>;
  private started = false;

  constructor(options: KubernetesIssuerSourceOptions) {
    this.options = options;
    const { kubeConfig, namespace, log } = options;
    const core = kubeConfig.makeApiClient(CoreV1Api);
    const backoff = { initialMs: 500, maxMs: 30_000 };
    const changed = (): void => {
      if (this.started) this.changed();
    };
    this.secrets = new ResilientInformer<V1Secret>({
      kubeConfig,
      resource: 'secrets',
      path: `/api/v1/namespaces/${namespace}/secrets`,
      fieldSelector: `metadata.name=${ISSUER_SECRET}`,
      list: () => core.listNamespacedSecret({ namespace, fieldSelector: `metadata.name=${ISSUER_SECRET}` }),
      onChange: changed,
      backoff,
      log,
    });
    this.configMaps = new ResilientInformer<V1ConfigMap>({
      kubeConfig,
      resource: 'configmaps',
      path: `/api/v1/namespaces/${namespace}/configmaps`,
      fieldSelector: `metadata.name=${TRUST_ROOTS_CONFIGMAP}`,
      list: () => core.listNamespacedConfigMap({ namespace, fieldSelector: `metadata.name=${TRUST_ROOTS_CONFIGMAP}` }),
      onChange: changed,
      backoff,
      log,
    });
  }

  /** Starts watching; resolves with the material present once both objects have been listed. */
  async start(): Promise<IssuerMaterial | { readonly missing: string }> {
    this.secrets.start();
    this.configMaps.start();
    await Promise.all([this.secrets.synced, this.configMaps.synced]);
    this.started = true;
    return this.material();
  }

  close(): void {
    this.secrets.close();
    this.configMaps.close();
  }

  private material(): IssuerMaterial | { readonly missing: string } {
    const { namespace } = this.options;
    return issuerMaterialOf(namespace, this.secrets.get(ISSUER_SECRET, namespace), this.configMaps.get(TRUST_ROOTS_CONFIGMAP, namespace));
  }

  private changed(): void {
    const material = this.material();
    if ('missing' in material) {
      this.options.log.warn('identity issuer incomplete; keeping the current issuer', { missing: material.missing });
      return;
    }
    this.options.onChange(material);
  }
}
