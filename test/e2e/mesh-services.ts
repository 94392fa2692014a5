// The Kubernetes side of the end-to-end test's `controller` mode, without Kubernetes: pod B's four
// servers as Services of a namespace `e2e`, each with a cluster IP from a range that exists nowhere
// (no interface, no kube-proxy: a connection to it reaches nothing), served to the proxies by a real
// controller from a discovery file (src/control/discovery/file/README.md). So a call to a cluster IP
// can only succeed when the outbound proxy asks Destination (GetProfile on `<clusterIP>:<port>` → the
// Service's name → Get → the pod's address) and connects to the endpoint it is given.
import { stringify } from 'yaml';

export const E2E_NAMESPACE = 'e2e';
/** The cluster-IP range: routed out of pod A's veth only so that its connects reach iptables at all. */
export const CLUSTER_IP_RANGE = '10.231.88.0/24';
/** A cluster IP in the range that no Service has: the controller knows nothing about it. */
export const UNKNOWN_CLUSTER_IP = '10.231.88.99';
/** The controller's proxy API (Destination, Telemetry) port, as in a cluster. */
export const PROXY_API_PORT = 8086;

export type ServerName = 'http1' | 'h2c' | 'grpc' | 'tcp';

/** One of pod B's servers as a Service: clients call `clusterIP:port`; the pod listens on `targetPort`. */
export interface MeshService {
  readonly name: ServerName;
  readonly clusterIP: string;
  readonly port: number;
  readonly targetPort: number;
}

/** Service ports differ from the pods' ports, as they usually do: the endpoint's port must come from Destination. */
export function meshServices(serverPorts: Readonly<Record<ServerName, number>>): Record<ServerName, MeshService> {
  return {
    http1: { name: 'http1', clusterIP: '10.231.88.10', port: 80, targetPort: serverPorts.http1 },
    h2c: { name: 'h2c', clusterIP: '10.231.88.11', port: 80, targetPort: serverPorts.h2c },
    grpc: { name: 'grpc', clusterIP: '10.231.88.12', port: 50051, targetPort: serverPorts.grpc },
    tcp: { name: 'tcp', clusterIP: '10.231.88.13', port: 9000, targetPort: serverPorts.tcp },
  };
}

/** The pod that runs the servers, as the controller describes it in endpoint metric labels. */
export const SERVER_POD = { name: 'servers-0', owner: 'deployment/servers', serviceAccount: 'servers' } as const;
/** The app's pod, named in its proxy's Destination context token as the injector sets it. */
export const APP_POD = { name: 'app-0', owner: 'deployment/app', serviceAccount: 'app' } as const;

/**
 * The discovery file: pod B's pod (meshed, at `serverIp`) once, and every Service with its cluster IP,
 * `port:targetPort` and that pod as its one endpoint. The app's pod is listed too, as a cluster would.
 */
export function meshDiscoveryFile(services: readonly MeshService[], serverIp: string, appIp: string): string {
  const pod = (ip: string, p: { owner: string; serviceAccount: string }) => ({ ip, owner: p.owner, serviceAccount: p.serviceAccount, meshed: true });
  const file = {
    namespaces: {
      [E2E_NAMESPACE]: {
        pods: { [SERVER_POD.name]: pod(serverIp, SERVER_POD), [APP_POD.name]: pod(appIp, APP_POD) },
        services: Object.fromEntries(
          services.map((s) => [s.name, { clusterIP: s.clusterIP, ports: [`${s.port}:${s.targetPort}`], endpoints: [{ pod: SERVER_POD.name }] }]),
        ),
      },
    },
  };
  return `# Written by test/e2e/mesh-services.ts for the end-to-end test's controller mode.\n${stringify(file)}`;
}

/** SLUICE_PROXY_DESTINATION_CONTEXT as the injector fills it in from the downward API (src/inject/sidecar.ts). */
export function destinationContext(pod: string, nodeName = 'e2e-node'): string {
  return JSON.stringify({ ns: E2E_NAMESPACE, nodeName, pod });
}
