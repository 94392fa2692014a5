// The demo's layout: which "pods" run, on which loopback ports, and the discovery file that tells the
// controller about them. Without a cluster each pod is an app process plus a sluice-proxy process on
// 127.0.0.1, told apart by port; the Service endpoints are the proxies' inbound listeners, so traffic
// takes the mesh's path: app → its proxy (outbound) → the peer's proxy (inbound) → peer app.
import net from 'node:net';
import { EMOJIS, voteMethod } from './common.ts';

export const NAMESPACE = 'emojivoto';
export const CLUSTER_DOMAIN = 'cluster.local';
export const HOST = '127.0.0.1';
/** Where the controller listens, as in a cluster (Linkerd's ports). */
export const DESTINATION_PORT = 8086;
export const PUBLIC_API_PORT = 8085;
/** The controller's Identity service (Linkerd's identity port), when free. */
export const IDENTITY_PORT = 8080;
/** The controller's web dashboard (Linkerd's 8084); another port when taken. */
export const DASHBOARD_PORT = 8084;

export type App = 'web' | 'emoji' | 'voting';
export const APPS: readonly App[] = ['web', 'emoji', 'voting'];

export interface PodPlan {
  readonly app: App;
  /** Deployment name = app name. */
  readonly deployment: string;
  /** A Kubernetes-looking pod name: `<deployment>-<replicaset hash>-<suffix>`. */
  readonly pod: string;
  readonly podTemplateHash: string;
  readonly service: string;
  /** The Service port clients dial (80 for web, 8080 for the gRPC services). */
  readonly servicePort: number;
  /** The app's own listener; only its proxy connects to it. */
  readonly appPort: number;
  readonly inboundPort: number;
  readonly outboundPort: number;
  readonly adminPort: number;
  readonly tapPort: number;
}

export interface Plan {
  readonly pods: Readonly<Record<App, PodPlan>>;
  /** The controller's ports: 8086, 8085 and 8084 unless the OS picks them all (`planPorts(false)`). */
  readonly controller: { readonly destinationPort: number; readonly publicApiPort: number; readonly dashboardPort: number };
  /** The traffic generator's stats server (`/stats`). */
  readonly trafficStatsPort: number;
  /** The controller's Identity service (Certify over TLS). */
  readonly identityPort: number;
  /** Ports that were taken, and what was used instead. */
  readonly substituted: ReadonlyArray<{ readonly what: string; readonly wanted: number; readonly got: number }>;
}

/**
 * Fixed defaults, so the commands in docs/quickstart.md work as written: pod n (web 0, emoji 1,
 * voting 2) uses 20n+… with Linkerd's last digits — 2n080 app, 2n140 outbound, 2n143 inbound,
 * 2n190 tap, 2n191 admin. The generator's stats are on 23080.
 */
const FIXED = {
  web: { hash: '6c7d5b9f8', suffix: 'x2k9q', service: 'web-svc', servicePort: 80, base: 20_000 },
  emoji: { hash: '59c8fd7b4', suffix: 'q7m4z', service: 'emoji-svc', servicePort: 8080, base: 21_000 },
  voting: { hash: '7f9b6c5d8', suffix: 'h5w2t', service: 'voting-svc', servicePort: 8080, base: 22_000 },
} as const;
const TRAFFIC_STATS_PORT = 23_080;

export function serviceFqdn(pod: PodPlan): string {
  return `${pod.service}.${NAMESPACE}.svc.${CLUSTER_DOMAIN}`;
}

/** `web-svc.emojivoto.svc.cluster.local:80`: what clients put in the authority. */
export function serviceAuthority(pod: PodPlan): string {
  return `${serviceFqdn(pod)}:${pod.servicePort}`;
}

/** Resolves when `port` can be bound on 127.0.0.1, false when it is in use. */
export function portIsFree(port: number, host = HOST): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** A port the OS picks (bound, read, released; a small race that a local demo can live with). */
export function freePort(host = HOST): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen({ port: 0, host }, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Picks every port: the fixed default when it is free, else one the OS picks (reported in
 * `substituted`). `fixed: false` lets the OS pick them all (tests, or two demos at once).
 */
export async function planPorts(fixed = true): Promise<Plan> {
  const substituted: Array<{ what: string; wanted: number; got: number }> = [];
  const taken = new Set<number>();
  const pick = async (what: string, wanted: number): Promise<number> => {
    if (fixed && !taken.has(wanted) && (await portIsFree(wanted))) {
      taken.add(wanted);
      return wanted;
    }
    let got = await freePort();
    while (taken.has(got)) got = await freePort();
    taken.add(got);
    if (fixed) substituted.push({ what, wanted, got });
    return got;
  };
  // With fixed ports the launcher has checked 8086 and 8085 are free (the CLI's defaults need them).
  const controller = {
    destinationPort: fixed ? DESTINATION_PORT : await pick('controller Destination', DESTINATION_PORT),
    publicApiPort: fixed ? PUBLIC_API_PORT : await pick('controller public API', PUBLIC_API_PORT),
    dashboardPort: await pick('controller dashboard', DASHBOARD_PORT),
  };
  const pods = {} as Record<App, PodPlan>;
  for (const app of APPS) {
    const f = FIXED[app];
    pods[app] = {
      app,
      deployment: app,
      pod: `${app}-${f.hash}-${f.suffix}`,
      podTemplateHash: f.hash,
      service: f.service,
      servicePort: f.servicePort,
      appPort: await pick(`${app} app`, f.base + 80),
      outboundPort: await pick(`${app} proxy outbound`, f.base + 140),
      inboundPort: await pick(`${app} proxy inbound`, f.base + 143),
      tapPort: await pick(`${app} proxy tap`, f.base + 190),
      adminPort: await pick(`${app} proxy admin`, f.base + 191),
    };
  }
  const trafficStatsPort = await pick('traffic generator stats', TRAFFIC_STATS_PORT);
  const identityPort = await pick('controller identity', IDENTITY_PORT);
  return { pods, controller, trafficStatsPort, identityPort, substituted };
}

/** ServiceProfile routes, one per gRPC method or HTTP route, as `linkerd profile` would write them. */
function grpcRoutes(service: string, methods: readonly string[]): string {
  return methods
    .map(
      (m) =>
        `        - name: POST /${service}/${m}\n` +
        `          condition:\n` +
        `            method: POST\n` +
        `            pathRegex: /${service.replace(/\./g, '\\.')}/${m}\n`,
    )
    .join('');
}

function httpRoutes(paths: readonly string[]): string {
  return paths
    .map(
      (p) =>
        `        - name: GET ${p}\n` +
        `          condition:\n` +
        `            method: GET\n` +
        `            pathRegex: ${p === '/' ? '/' : `${p.replace(/\./g, '\\.')}(\\?.*)?`}\n`,
    )
    .join('');
}

/**
 * The file discovery YAML (format: src/control/discovery/file/README.md). Every pod is meshed, owned
 * by its Deployment, and reachable at its proxy's inbound listener; each Service has one endpoint.
 */
export function renderDiscoveryFile(plan: Plan): string {
  const pods = APPS.map((app) => plan.pods[app]);
  const podEntries = pods
    .map(
      (p) =>
        `      ${p.pod}:\n` +
        `        ip: ${HOST}\n` +
        `        owner: deployment/${p.deployment}\n` +
        `        serviceAccount: ${p.app}\n` +
        `        meshed: true\n` +
        `        labels:\n` +
        `          app: ${p.service}\n` +
        `          pod-template-hash: ${p.podTemplateHash}\n` +
        `          # Where this pod's proxy serves Tap; the controller's tap relay reads it (default 4190).\n` +
        `          sluice.io/tap-port: "${p.tapPort}"\n`,
    )
    .join('');
  const serviceEntries = pods
    .map(
      (p) =>
        `      ${p.service}:\n` +
        `        ports: [{ port: ${p.servicePort}, name: ${p.app === 'web' ? 'http' : 'grpc'} }]\n` +
        `        endpoints:\n` +
        `          # ${p.pod}'s proxy, inbound listener (its app listens on ${HOST}:${p.appPort})\n` +
        `          - pod: ${p.pod}\n` +
        `            port: ${p.inboundPort}\n`,
    )
    .join('');
  const votingMethods = ['Results', ...EMOJIS.map((e) => voteMethod(e.shortcode))];
  return (
    `# Written by scripts/start.ts (npm start) for this run's ports; rewritten at every start.\n` +
    `# The controller watches this file: edit it while the demo runs and the proxies follow.\n` +
    `namespaces:\n` +
    `  ${NAMESPACE}:\n` +
    `    pods:\n${podEntries}` +
    `    services:\n${serviceEntries}` +
    `    profiles:\n` +
    `      web-svc:\n        routes:\n${httpRoutes(['/api/list', '/api/vote', '/api/leaderboard', '/'])}` +
    `      emoji-svc:\n        routes:\n${grpcRoutes('emojivoto.v1.EmojiService', ['ListAll', 'FindByShortcode'])}` +
    `      voting-svc:\n        routes:\n${grpcRoutes('emojivoto.v1.VotingService', votingMethods)}`
  );
}
