// The checks of `sluice check`, grouped like Linkerd's: the API server, its version, (with --pre) the
// right to install, the control plane's objects and pods, identity certificates, the injector's
// certificate, versions, and (with --proxy) the data plane. Each check reads the cluster through the
// real Kubernetes client (cluster-reads.ts) and says in one message what is wrong.
import { X509Certificate } from 'node:crypto';
import { checkIssuer, describeIssuerProblem, parsePrivateKeyPem, timeLeftMs, type Certificate } from '../../control/identity/pki.ts';
import { PROXY_CONTAINER } from '../../inject/sidecar.ts';
import { CRD_NAMES } from '../../install/crds.ts';
import { webhookServerName } from '../../install/credentials.ts';
import { clusterRoleName, COMPONENT_LABEL, CONFIG_MAP, CONTROLLER, ISSUER_SECRET, SERVICE_ACCOUNT, TRUST_ROOTS_CONFIG_MAP, WEBHOOK_CONFIGURATION } from '../../install/names.ts';
import { defaultValues, mergeValues } from '../../inject/values.ts';
import { dataPlanePods, identityMaterial, maybe, memo, podProblem, proxyVersion, webhookMaterial, type CheckContext, type KubeClients } from './cluster-reads.ts';
import { failure, ok, warning, type CategoryDef, type CheckDef } from './runner.ts';

export { kubeClients, type CheckContext, type KubeClients } from './cluster-reads.ts';

/** Oldest Kubernetes with everything install uses GA (EndpointSlice v1, PodDisruptionBudget policy/v1). */
export const MIN_KUBERNETES = { major: 1, minor: 22 };
/** Certificates closer to expiry than this are a warning (Linkerd's 60 days). */
export const EXPIRY_WARNING_MS = 60 * 24 * 3600_000;

const days = (ms: number): number => Math.floor(ms / (24 * 3600_000));

/** "… within their validity period" (an error) and "… valid for at least 60 days" (a warning). */
function expiryChecks(
  descriptions: { readonly valid: string; readonly soon: string },
  load: (ctx: CheckContext) => Promise<readonly Certificate[]>,
  hint: string,
): [CheckDef<CheckContext>, CheckDef<CheckContext>] {
  return [
    {
      description: descriptions.valid,
      hint,
      run: async (ctx) => {
        const bad = (await load(ctx)).filter((c) => ctx.now < c.notBefore || ctx.now > c.notAfter);
        if (bad.length === 0) return ok;
        return failure(bad.map((c) => `"${c.subject}" is valid from ${c.notBefore.toISOString()} to ${c.notAfter.toISOString()}`).join('\n'));
      },
    },
    {
      description: descriptions.soon,
      hint,
      run: async (ctx) => {
        const soon = (await load(ctx)).filter((c) => timeLeftMs(c, ctx.now) < EXPIRY_WARNING_MS);
        if (soon.length === 0) return ok;
        return warning(soon.map((c) => `"${c.subject}" expires on ${c.notAfter.toISOString()} (in ${days(timeLeftMs(c, ctx.now))} days)`).join('\n'));
      },
    },
  ];
}

// ── categories ─────────────────────────────────────────────────────────────────────────────────

function exists(description: string, hint: string, read: (k: KubeClients, ctx: CheckContext) => Promise<unknown>, what: (ctx: CheckContext) => string): CheckDef<CheckContext> {
  return {
    description,
    hint,
    run: async (ctx) => ((await maybe(async () => read(await ctx.kube(), ctx))) === undefined ? failure(`${what(ctx)} not found`) : ok),
  };
}

const INSTALL_HINT = 'sluice install | kubectl apply -f -';

export function categories(mode: { pre: boolean; proxy: boolean }): CategoryDef<CheckContext>[] {
  const kubernetesApi: CategoryDef<CheckContext> = {
    name: 'kubernetes-api',
    checks: [
      { description: 'can initialize the client', hint: 'check --kubeconfig, KUBECONFIG and --context', fatal: true, run: async (ctx) => (await ctx.kube(), ok) },
      {
        description: 'can query the Kubernetes API',
        hint: 'kubectl version: is the API server up, and reachable from here?',
        fatal: true,
        run: async (ctx) => {
          const { version } = await ctx.kube();
          await memo(ctx, 'version', () => version.getCode());
          return ok;
        },
      },
    ],
  };
  const kubernetesVersion: CategoryDef<CheckContext> = {
    name: 'kubernetes-version',
    checks: [
      {
        description: 'is running the minimum Kubernetes API version',
        hint: `upgrade the cluster to Kubernetes ${MIN_KUBERNETES.major}.${MIN_KUBERNETES.minor} or later`,
        run: async (ctx) => {
          const { version } = await ctx.kube();
          const info = await memo(ctx, 'version', () => version.getCode());
          const major = Number.parseInt(info.major, 10);
          const minor = Number.parseInt(info.minor, 10); // "27+" on some providers
          if (!Number.isFinite(major) || !Number.isFinite(minor)) return failure(`cannot read the version "${info.gitVersion}"`);
          const recent = major > MIN_KUBERNETES.major || (major === MIN_KUBERNETES.major && minor >= MIN_KUBERNETES.minor);
          return recent ? ok : failure(`Kubernetes is on version ${info.gitVersion}, but version ${MIN_KUBERNETES.major}.${MIN_KUBERNETES.minor} or later is required`);
        },
      },
    ],
  };
  const canCreate = (description: string, namespaced: boolean, resources: ReadonlyArray<readonly [group: string, resource: string]>): CheckDef<CheckContext> => ({
    description,
    hint: 'install with an account that may create these (e.g. cluster-admin)',
    run: async (ctx) => {
      const { authorization } = await ctx.kube();
      const denied: string[] = [];
      for (const [group, resource] of resources) {
        const review = await authorization.createSelfSubjectAccessReview({
          body: {
            apiVersion: 'authorization.k8s.io/v1',
            kind: 'SelfSubjectAccessReview',
            spec: { resourceAttributes: { verb: 'create', group, resource, ...(namespaced ? { namespace: ctx.namespace } : {}) } },
          },
        });
        if (review.status?.allowed !== true) denied.push(group === '' ? resource : `${resource}.${group}`);
      }
      return denied.length === 0 ? ok : failure(`not allowed to create ${denied.join(', ')}`);
    },
  });
  const preSetup: CategoryDef<CheckContext> = {
    name: 'pre-kubernetes-setup',
    checks: [
      {
        description: 'control plane namespace does not already exist',
        hint: 'sluice uninstall | kubectl delete -f -, or install into another namespace',
        run: async (ctx) => {
          const found = await maybe(async () => (await ctx.kube()).core.readNamespace({ name: ctx.namespace }));
          return found === undefined ? ok : failure(`The "${ctx.namespace}" namespace already exists`);
        },
      },
      canCreate('can create non-namespaced resources', false, [
        ['', 'namespaces'],
        ['apiextensions.k8s.io', 'customresourcedefinitions'],
        ['rbac.authorization.k8s.io', 'clusterroles'],
        ['rbac.authorization.k8s.io', 'clusterrolebindings'],
        ['admissionregistration.k8s.io', 'mutatingwebhookconfigurations'],
      ]),
      canCreate('can create namespaced resources', true, [
        ['', 'serviceaccounts'],
        ['', 'services'],
        ['', 'configmaps'],
        ['', 'secrets'],
        ['apps', 'deployments'],
        ['policy', 'poddisruptionbudgets'],
      ]),
    ],
  };
  const existence: CategoryDef<CheckContext> = {
    name: 'sluice-existence',
    checks: [
      { ...exists('control plane namespace exists', INSTALL_HINT, (k, ctx) => k.core.readNamespace({ name: ctx.namespace }), (ctx) => `Namespace ${ctx.namespace}`), fatal: true },
      exists(`'${CONFIG_MAP}' config map exists`, INSTALL_HINT, (k, ctx) => k.core.readNamespacedConfigMap({ name: CONFIG_MAP, namespace: ctx.namespace }), (ctx) => `ConfigMap ${ctx.namespace}/${CONFIG_MAP}`),
      {
        description: 'control plane pods are ready',
        hint: `kubectl -n <namespace> describe pods -l ${COMPONENT_LABEL}; kubectl -n <namespace> logs deploy/${CONTROLLER}`,
        run: async (ctx) => {
          const { core } = await ctx.kube();
          const pods = (await core.listNamespacedPod({ namespace: ctx.namespace, labelSelector: COMPONENT_LABEL })).items;
          if (pods.length === 0) return failure(`No running pods for "${CONTROLLER}"`);
          const problems = pods.map((p) => podProblem(p)).filter((p): p is string => p !== undefined);
          return problems.length === 0 ? ok : failure(problems.join('\n'));
        },
      },
    ],
  };
  const config: CategoryDef<CheckContext> = {
    name: 'sluice-config',
    checks: [
      {
        description: 'control plane CustomResourceDefinitions exist',
        hint: INSTALL_HINT,
        run: async (ctx) => {
          const { apiextensions } = await ctx.kube();
          const missing: string[] = [];
          for (const name of CRD_NAMES) if ((await maybe(() => apiextensions.readCustomResourceDefinition({ name }))) === undefined) missing.push(name);
          return missing.length === 0 ? ok : failure(`missing CustomResourceDefinitions: ${missing.join(', ')}`);
        },
      },
      exists('control plane ClusterRoles exist', INSTALL_HINT, (k, ctx) => k.rbac.readClusterRole({ name: clusterRoleName(valuesFor(ctx)) }), (ctx) => `ClusterRole ${clusterRoleName(valuesFor(ctx))}`),
      exists('control plane ClusterRoleBindings exist', INSTALL_HINT, (k, ctx) => k.rbac.readClusterRoleBinding({ name: clusterRoleName(valuesFor(ctx)) }), (ctx) => `ClusterRoleBinding ${clusterRoleName(valuesFor(ctx))}`),
      exists('control plane ServiceAccounts exist', INSTALL_HINT, (k, ctx) => k.core.readNamespacedServiceAccount({ name: SERVICE_ACCOUNT, namespace: ctx.namespace }), (ctx) => `ServiceAccount ${ctx.namespace}/${SERVICE_ACCOUNT}`),
      exists(
        'control plane MutatingWebhookConfigurations exist',
        INSTALL_HINT,
        (k, ctx) => k.admission.readMutatingWebhookConfiguration({ name: `${WEBHOOK_CONFIGURATION}-${ctx.namespace}` }),
        (ctx) => `MutatingWebhookConfiguration ${WEBHOOK_CONFIGURATION}-${ctx.namespace}`,
      ),
    ],
  };
  const renewIdentity = 'sluice install --identity-trust-anchors-file … --identity-issuer-certificate-file … --identity-issuer-key-file … | kubectl apply -f - (docs/install.md, Upgrade)';
  const identity: CategoryDef<CheckContext> = {
    name: 'sluice-identity',
    checks: [
      {
        description: 'certificate config is valid',
        hint: `kubectl -n <namespace> get configmap ${TRUST_ROOTS_CONFIG_MAP} secret ${ISSUER_SECRET} -o yaml`,
        gate: true,
        run: async (ctx) => {
          const material = await identityMaterial(ctx);
          try {
            await parsePrivateKeyPem(material.issuerKeyPem);
          } catch (error) {
            return failure(`Secret ${ctx.namespace}/${ISSUER_SECRET}: tls.key is not a usable private key: ${(error as Error).message}`);
          }
          return ok;
        },
      },
      ...expiryChecks({ valid: 'trust anchors are within their validity period', soon: 'trust anchors are valid for at least 60 days' }, async (ctx) => (await identityMaterial(ctx)).anchors, renewIdentity),
      ...expiryChecks({ valid: 'issuer cert is within its validity period', soon: 'issuer cert is valid for at least 60 days' }, async (ctx) => [(await identityMaterial(ctx)).issuer], renewIdentity),
      {
        description: 'issuer cert is issued by the trust anchor',
        hint: 'give an issuer signed by the anchors in the trust roots ConfigMap',
        run: async (ctx) => {
          const m = await identityMaterial(ctx);
          const privateKey = await parsePrivateKeyPem(m.issuerKeyPem);
          const problem = await checkIssuer({ certificate: m.issuer, chain: m.chain, privateKey }, m.anchors, ctx.now);
          // Expiry has its own checks above; here only the chain and the key.
          return problem === undefined || problem.kind === 'expired' || problem.kind === 'not-yet-valid' ? ok : failure(describeIssuerProblem(problem));
        },
      },
    ],
  };
  const webhookHint = 're-run sluice install | kubectl apply -f - (a new webhook certificate is made each time)';
  const webhook: CategoryDef<CheckContext> = {
    name: 'sluice-webhooks-and-apisvc-tls',
    checks: [
      {
        description: 'proxy-injector webhook has valid cert',
        hint: webhookHint,
        gate: true,
        run: async (ctx) => {
          const { caBundle, served } = await webhookMaterial(ctx);
          const name = webhookServerName(valuesFor(ctx));
          const pem = served.toString('pem');
          const native = new X509Certificate(pem);
          if (!caBundle.some((ca) => native.verify(new X509Certificate(ca.toString('pem')).publicKey))) return failure('the serving certificate is not signed by the caBundle of the webhook configuration');
          if (native.checkHost(name) === undefined) return failure(`the serving certificate is not for ${name} (${native.subjectAltName ?? 'no SAN'})`);
          if (ctx.now > served.notAfter || ctx.now < served.notBefore) return failure(`the serving certificate is valid from ${served.notBefore.toISOString()} to ${served.notAfter.toISOString()}`);
          return ok;
        },
      },
      // Its validity period is part of the check above (a gate).
      expiryChecks({ valid: '', soon: 'proxy-injector cert is valid for at least 60 days' }, async (ctx) => [(await webhookMaterial(ctx)).served], webhookHint)[1],
    ],
  };
  const version: CategoryDef<CheckContext> = {
    name: 'control-plane-version',
    checks: [
      {
        description: 'control plane and cli versions match',
        hint: 'sluice install | kubectl apply -f - with this CLI, or use the CLI of the installed version',
        run: async (ctx) => {
          const { apps } = await ctx.kube();
          const deployment = await apps.readNamespacedDeployment({ name: CONTROLLER, namespace: ctx.namespace });
          const image = deployment.spec?.template.spec?.containers.find((c) => c.name === CONTROLLER)?.image ?? '';
          const tag = image.slice(image.lastIndexOf(':') + 1);
          return tag === ctx.cliVersion ? ok : warning(`control plane running ${tag} but cli running ${ctx.cliVersion}`);
        },
      },
    ],
  };
  const dataPlane: CategoryDef<CheckContext> = {
    name: 'sluice-data-plane',
    checks: [
      {
        description: 'data plane namespace exists',
        hint: 'check the namespace given with -n',
        run: async (ctx) => {
          if (ctx.proxyNamespace === undefined) return ok;
          const found = await maybe(async () => (await ctx.kube()).core.readNamespace({ name: ctx.proxyNamespace as string }));
          return found === undefined ? failure(`The "${ctx.proxyNamespace}" namespace does not exist`) : ok;
        },
      },
      {
        description: 'data plane proxies are ready',
        hint: `kubectl describe pod <pod>; kubectl logs <pod> -c ${PROXY_CONTAINER}`,
        run: async (ctx) => {
          const problems = (await dataPlanePods(ctx)).map((p) => podProblem(p, PROXY_CONTAINER)).filter((p): p is string => p !== undefined);
          return problems.length === 0 ? ok : failure(problems.join('\n'));
        },
      },
      {
        description: 'data plane and cli versions match',
        hint: 'restart the workloads (kubectl rollout restart) so that they get the current proxy',
        run: async (ctx) => {
          const behind = (await dataPlanePods(ctx)).filter((p) => proxyVersion(p) !== ctx.cliVersion);
          if (behind.length === 0) return ok;
          return warning(behind.map((p) => `${p.metadata?.namespace}/${p.metadata?.name} running ${proxyVersion(p)} but cli running ${ctx.cliVersion}`).join('\n'));
        },
      },
    ],
  };
  if (mode.pre) return [kubernetesApi, kubernetesVersion, preSetup];
  return [kubernetesApi, kubernetesVersion, existence, config, identity, webhook, version, ...(mode.proxy ? [dataPlane] : [])];
}

/** Values enough to derive names in the checked namespace. */
function valuesFor(ctx: CheckContext) {
  return mergeValues(defaultValues(ctx.cliVersion), { controlPlaneNamespace: ctx.namespace });
}
