// Runs the controller's telemetry and public API components in the test process, with a discovery
// backend the test provides, on ports the OS picks.
import * as grpc from '@grpc/grpc-js';
import { Logger } from '../../src/log/logger.ts';
import { controllerDefaults, type ControllerConfig } from '../../src/control/config.ts';
import { PublicApiRegistry, type Component, type ControllerContext } from '../../src/control/context.ts';
import type { DiscoveryBackend, PodInfo } from '../../src/control/discovery/types.ts';
import { publicApiComponent } from '../../src/control/public-api/component.ts';
import { telemetryComponent, telemetryStore } from '../../src/control/telemetry/component.ts';
import type { TelemetryStore } from '../../src/control/telemetry/store.ts';
import type { FamilySnapshot } from '../../src/telemetry/metrics.ts';

export interface RunningController {
  readonly ctx: ControllerContext;
  readonly store: TelemetryStore;
  /** `127.0.0.1:port` of the proxy API (Telemetry). */
  readonly proxyApi: string;
  /** `127.0.0.1:port` of the public API. */
  readonly publicApi: string;
  /** What the components would show on the admin server's /metrics now. */
  metrics(): FamilySnapshot[];
  close(): Promise<void>;
}

/** A discovery backend that knows only pods (no services or profiles). */
export function podsOnlyDiscovery(pods: () => readonly PodInfo[]): DiscoveryBackend {
  return {
    watchService: (_name, _port, onUpdate) => {
      onUpdate({ kind: 'not-found' });
      return () => {};
    },
    watchProfile: (_name, onUpdate) => {
      onUpdate(undefined);
      return () => {};
    },
    pods,
    ready: async () => {},
    close: () => {},
  };
}

export function pod(namespace: string, name: string, owner: string | undefined, fields: Partial<PodInfo> = {}): PodInfo {
  const [kind = '', ownerName = ''] = owner?.split('/') ?? [];
  return {
    namespace,
    name,
    ip: '10.0.0.1',
    owner: owner === undefined ? undefined : { kind, name: ownerName },
    serviceAccount: 'default',
    meshed: true,
    phase: 'Running',
    labels: {},
    ...fields,
  };
}

export async function startController(
  discovery: DiscoveryBackend,
  components: readonly Component[] = [telemetryComponent, publicApiComponent],
  proxyApiPort = 0,
  /** Flags as parsed, over the test defaults (`prometheusUrl`, say). */
  overrides: Partial<ControllerConfig> = {},
): Promise<RunningController> {
  const config: ControllerConfig = {
    ...controllerDefaults(),
    proxyApiAddr: { host: '127.0.0.1', port: 0 },
    publicApiAddr: { host: '127.0.0.1', port: 0 },
    adminAddr: { host: '127.0.0.1', port: 0 },
    peers: { kind: 'none' },
    podIp: undefined,
    discovery: 'file',
    discoveryFile: undefined,
    clusterDomain: 'cluster.local',
    controlPlaneNamespace: 'sluice',
    trustDomain: 'cluster.local',
    logLevel: 'warn',
    logFormat: 'plain',
    ...overrides,
  };
  const closers: Array<() => void | Promise<void>> = [];
  const metricSources: Array<() => readonly FamilySnapshot[]> = [];
  const proxyApi = new grpc.Server();
  const ctx: ControllerContext = {
    config,
    log: new Logger('warn', 'plain', 'controller'),
    discovery,
    proxyApi,
    publicApi: new PublicApiRegistry(),
    addresses: {},
    addMetrics: (source) => metricSources.push(source),
    onClose: (close) => closers.push(close),
  };
  for (const component of components) await component(ctx);
  const port = await new Promise<number>((resolve, reject) =>
    proxyApi.bindAsync(`127.0.0.1:${proxyApiPort}`, grpc.ServerCredentials.createInsecure(), (error, bound) => (error === null ? resolve(bound) : reject(error))),
  );
  return {
    ctx,
    store: telemetryStore(ctx),
    proxyApi: `127.0.0.1:${port}`,
    publicApi: ctx.addresses['public-api'] ?? '',
    metrics: () => metricSources.flatMap((source) => source()),
    close: async () => {
      for (const close of closers.reverse()) await close();
      proxyApi.forceShutdown();
    },
  };
}
