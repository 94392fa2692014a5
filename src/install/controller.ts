// The controller's Deployment, its Services and (with --ha) its disruption budget. One process runs
// every component (Destination, Telemetry, Identity, injector webhook, public API, tap relay), so one
// Deployment; several replicas share telemetry through the headless peers Service (docs/install.md).
import type { V1Container, V1Deployment, V1PodDisruptionBudget, V1Service } from '@kubernetes/client-node';
import { imageString, type Values } from '../inject/values.ts';
import {
  ADMIN_PORT,
  DASHBOARD_PORT,
  COMPONENT_LABEL,
  CONFIG_MAP,
  CONTROLLER,
  ISSUER_SECRET,
  meta,
  MOUNTS,
  PEERS_SERVICE,
  SERVICE_ACCOUNT,
  SERVICES,
  TRUST_ROOTS_CONFIG_MAP,
  TRUST_ROOTS_KEY,
  WEBHOOK_SECRET,
} from './names.ts';

export interface ControllerOptions {
  readonly ha: boolean;
  /**
   * Changes when the mounted values or credentials change, so that the pods roll: the injector reads
   * the values once at start, and the API server trusts a new webhook CA at once.
   */
  readonly configChecksum: string;
}

/** The controller's UID (Linkerd's control plane runs as 2103; the proxy is 2102). */
export const CONTROLLER_UID = 2103;
export const HA_REPLICAS = 3;

const selectorLabels = { [COMPONENT_LABEL]: 'controller' };

/** The controller's flags in the pod, one per line in the manifest. */
export function controllerArgs(values: Values): string[] {
  const ns = values.controlPlaneNamespace;
  return [
    `--proxy-api-addr=0.0.0.0:${SERVICES.destination.targetPort}`,
    `--public-api-addr=0.0.0.0:${SERVICES.publicApi.targetPort}`,
    `--admin-addr=0.0.0.0:${ADMIN_PORT}`,
    `--dashboard-addr=0.0.0.0:${DASHBOARD_PORT}`,
    `--identity-addr=0.0.0.0:${SERVICES.identity.targetPort}`,
    `--webhook-addr=0.0.0.0:${SERVICES.injector.targetPort}`,
    '--discovery=kubernetes',
    `--cluster-domain=${values.clusterDomain}`,
    `--control-plane-namespace=${ns}`,
    `--trust-domain=${values.identity.trustDomain}`,
    // Identity signs with the issuer from the mounted Secret (files are watched: a rotated Secret is
    // picked up without a restart).
    `--identity-trust-anchors=${MOUNTS.trustRoots}/${TRUST_ROOTS_KEY}`,
    `--identity-issuer-cert=${MOUNTS.issuer}/tls.crt`,
    `--identity-issuer-key=${MOUNTS.issuer}/tls.key`,
    // The injector builds sidecars from the install values and gives proxies the trust anchors.
    `--webhook-tls-cert=${MOUNTS.webhook}/tls.crt`,
    `--webhook-tls-key=${MOUNTS.webhook}/tls.key`,
    `--values=${MOUNTS.config}/values`,
    `--identity-trust-anchors-file=${MOUNTS.trustRoots}/${TRUST_ROOTS_KEY}`,
    `--peers=dns:${PEERS_SERVICE}.${ns}.svc.${values.clusterDomain}:${SERVICES.destination.targetPort}`,
    '--pod-ip=$(POD_IP)',
    `--log=${values.controller.logLevel}`,
  ];
}

function container(values: Values, ha: boolean): V1Container {
  return {
    name: CONTROLLER,
    image: imageString(values.controller.image),
    imagePullPolicy: 'IfNotPresent',
    args: controllerArgs(values),
    env: [
      { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
      { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    ],
    ports: [
      { name: 'proxy-api', containerPort: SERVICES.destination.targetPort },
      { name: 'identity', containerPort: SERVICES.identity.targetPort },
      { name: 'webhook', containerPort: SERVICES.injector.targetPort },
      { name: 'public-api', containerPort: SERVICES.publicApi.targetPort },
      { name: 'admin-http', containerPort: ADMIN_PORT },
      { name: 'dashboard-http', containerPort: DASHBOARD_PORT },
    ],
    // /live answers as soon as the process runs; /ready only once discovery has made its first lists
    // and every component listens, so a slow first sync delays readiness and never restarts the pod.
    livenessProbe: { httpGet: { path: '/live', port: 'admin-http' }, initialDelaySeconds: 10, periodSeconds: 10, failureThreshold: 3 },
    readinessProbe: { httpGet: { path: '/ready', port: 'admin-http' }, periodSeconds: 5, failureThreshold: 2 },
    ...(ha ? { resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '512Mi' } } } : {}),
    securityContext: {
      runAsNonRoot: true,
      runAsUser: CONTROLLER_UID,
      runAsGroup: CONTROLLER_UID,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    },
    volumeMounts: [
      { name: 'config', mountPath: MOUNTS.config, readOnly: true },
      { name: 'identity-issuer', mountPath: MOUNTS.issuer, readOnly: true },
      { name: 'trust-roots', mountPath: MOUNTS.trustRoots, readOnly: true },
      { name: 'webhook-tls', mountPath: MOUNTS.webhook, readOnly: true },
    ],
  };
}

export function controllerDeployment(values: Values, options: ControllerOptions): V1Deployment {
  const podLabels = { ...meta(values, CONTROLLER).labels, ...selectorLabels };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: meta(values, CONTROLLER, { labels: selectorLabels }),
    spec: {
      replicas: options.ha ? HA_REPLICAS : 1,
      selector: { matchLabels: selectorLabels },
      // With --ha one replica at a time goes, so two keep serving during a rollout.
      ...(options.ha ? { strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 1 } } } : {}),
      template: {
        metadata: { labels: podLabels, annotations: { 'sluice.dev/config-checksum': options.configChecksum } },
        spec: {
          serviceAccountName: SERVICE_ACCOUNT,
          automountServiceAccountToken: true,
          ...(options.ha
            ? {
                affinity: {
                  podAntiAffinity: {
                    // Never two replicas on one node; spread over zones when there are several.
                    requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: selectorLabels }, topologyKey: 'kubernetes.io/hostname' }],
                    preferredDuringSchedulingIgnoredDuringExecution: [
                      { weight: 100, podAffinityTerm: { labelSelector: { matchLabels: selectorLabels }, topologyKey: 'topology.kubernetes.io/zone' } },
                    ],
                  },
                },
              }
            : {}),
          containers: [container(values, options.ha)],
          volumes: [
            { name: 'config', configMap: { name: CONFIG_MAP } },
            { name: 'identity-issuer', secret: { secretName: ISSUER_SECRET } },
            { name: 'trust-roots', configMap: { name: TRUST_ROOTS_CONFIG_MAP } },
            { name: 'webhook-tls', secret: { secretName: WEBHOOK_SECRET } },
          ],
        },
      },
    },
  };
}

function service(values: Values, s: (typeof SERVICES)[keyof typeof SERVICES]): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(values, s.name),
    spec: { type: 'ClusterIP', selector: selectorLabels, ports: [{ name: s.portName, port: s.port, targetPort: s.targetPort, protocol: 'TCP' }] },
  };
}

export function controllerServices(values: Values): V1Service[] {
  const peers: V1Service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(values, PEERS_SERVICE),
    spec: {
      clusterIP: 'None',
      selector: selectorLabels,
      ports: [{ name: 'grpc', port: SERVICES.destination.targetPort, targetPort: SERVICES.destination.targetPort, protocol: 'TCP' }],
    },
  };
  return [...Object.values(SERVICES).map((s) => service(values, s)), peers];
}

export function controllerDisruptionBudget(values: Values): V1PodDisruptionBudget {
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: meta(values, CONTROLLER),
    spec: { maxUnavailable: 1, selector: { matchLabels: selectorLabels } },
  };
}
