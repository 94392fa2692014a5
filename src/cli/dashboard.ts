// `sluice dashboard`: where the web dashboard is. On a local mesh (`npm start`, or a controller run by
// hand) the controller serves it on 127.0.0.1:8084 and the command checks it answers and prints the
// URL. In a cluster the controller's port 8084 is not exposed, so the command port-forwards a local
// port to the controller pod (Kubernetes' port-forward, as `kubectl port-forward` does) and prints the
// URL; Ctrl-C stops the forward. It opens no browser: the URL is for the user to open.
import net from 'node:net';
import { parseArgs } from 'node:util';
import { CliError } from './api-client.ts';
import type { CliIo } from './io.ts';
import { loadKubeConfig } from './kubeconfig.ts';
import { interruptSignal } from './tap.ts';

export const DASHBOARD_USAGE = `Print the URL of the Sluice web dashboard (in a cluster, after port-forwarding to it).

Usage:
  sluice dashboard [flags]

Without --cluster: if a Sluice dashboard answers at --address (a local mesh: npm start), prints its URL.
Otherwise, with a kubeconfig: forwards 127.0.0.1:--port to the sluice-controller pod's dashboard port
(8084) and prints the URL; Ctrl-C stops the forward.

Flags:
      --address HOST:PORT            a local controller's dashboard (default: SLUICE_DASHBOARD_ADDR, else 127.0.0.1:8084)
      --cluster                      always port-forward to the cluster's controller
  -p, --port PORT                    local port of the port-forward (default 50750; 0 picks one)
      --control-plane-namespace NS   where Sluice is installed (default sluice)
      --kubeconfig FILE              default: KUBECONFIG, else ~/.kube/config
      --context NAME                 kubeconfig context to use
  -h, --help
`;

export const DEFAULT_DASHBOARD_ADDR = '127.0.0.1:8084';
/** Linkerd's dashboard port-forward default. */
const DEFAULT_LOCAL_PORT = 50750;
const CONTROLLER_DEPLOYMENT = 'sluice-controller';
const CONTROLLER_DASHBOARD_PORT = 8084;

const OPTIONS = {
  address: { type: 'string' },
  cluster: { type: 'boolean' },
  port: { type: 'string', short: 'p' },
  'control-plane-namespace': { type: 'string' },
  kubeconfig: { type: 'string' },
  context: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** What answers at `url`: a Sluice dashboard, something else, or nothing. */
export async function probeDashboard(url: string, timeoutMs = 2000): Promise<'sluice' | 'other' | 'none'> {
  try {
    const response = await fetch(new URL('api/info', url), { signal: AbortSignal.timeout(timeoutMs) });
    const body = (await response.json().catch(() => ({}))) as { dashboard?: unknown };
    return response.ok && body.dashboard === 'sluice' ? 'sluice' : 'other';
  } catch {
    return 'none';
  }
}

function localUrl(addr: string): string {
  const url = /^https?:\/\//.test(addr) ? addr : `http://${addr}`;
  try {
    return new URL('/', url).href;
  } catch {
    throw new CliError(`invalid --address "${addr}": expected HOST:PORT (e.g. ${DEFAULT_DASHBOARD_ADDR})`, 2);
  }
}

function localPort(text: string | undefined): number {
  if (text === undefined) return DEFAULT_LOCAL_PORT;
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CliError(`--port must be a port number (0–65535), not "${text}"`, 2);
  return port;
}

export async function run(args: string[], io: CliIo, signal?: AbortSignal): Promise<number> {
  const { values } = parseArgs({ args, options: OPTIONS, allowPositionals: false, strict: true });
  if (values.help === true) {
    io.stdout(DASHBOARD_USAGE);
    return 0;
  }
  const port = localPort(values.port);
  const namespace = values['control-plane-namespace'] ?? 'sluice';
  if (values.cluster !== true) {
    const address = values.address ?? (io.env['SLUICE_DASHBOARD_ADDR'] || undefined) ?? DEFAULT_DASHBOARD_ADDR;
    const url = localUrl(address);
    const found = await probeDashboard(url);
    if (found === 'sluice') {
      io.stdout(`Sluice dashboard: ${url}\n`);
      return 0;
    }
    if (values.address !== undefined) {
      throw new CliError(
        found === 'other'
          ? `something answers at ${address}, but it is not a Sluice dashboard`
          : `no Sluice dashboard answers at ${address}: is the controller running? (its "controller ready" log line names dashboard=HOST:PORT)`,
      );
    }
  }
  let config;
  try {
    config = await loadKubeConfig({ kubeconfig: values.kubeconfig, context: values.context, env: io.env });
  } catch (error) {
    throw new CliError(
      `no Sluice dashboard answers at ${DEFAULT_DASHBOARD_ADDR} (local mesh), and no cluster to port-forward to: ${(error as Error).message}.\n` +
        'Start the local mesh with npm start, or point --address at a controller\'s dashboard.',
    );
  }
  await checkController(config, namespace);
  const interrupt = signal === undefined ? interruptSignal() : undefined;
  try {
    await forward(config, namespace, port, io, signal ?? (interrupt as NonNullable<typeof interrupt>).signal);
  } finally {
    interrupt?.done();
  }
  return 0;
}

type KubeConfig = Awaited<ReturnType<typeof loadKubeConfig>>;

/** The controller Deployment exists and has a ready pod; else a message that says what to do. */
async function checkController(config: KubeConfig, namespace: string): Promise<void> {
  const { AppsV1Api } = await import('@kubernetes/client-node');
  const apps = config.makeApiClient(AppsV1Api);
  let ready: number;
  try {
    const deployment = await apps.readNamespacedDeployment({ name: CONTROLLER_DEPLOYMENT, namespace });
    ready = deployment.status?.readyReplicas ?? 0;
  } catch (error) {
    const code = (error as { code?: number }).code;
    if (code === 404) throw new CliError(`no ${CONTROLLER_DEPLOYMENT} Deployment in namespace ${namespace}: is Sluice installed? (sluice install | kubectl apply -f -; sluice check)`);
    throw new CliError(`cannot read the ${CONTROLLER_DEPLOYMENT} Deployment in ${namespace}: ${(error as Error).message}`);
  }
  if (ready === 0) throw new CliError(`the ${CONTROLLER_DEPLOYMENT} Deployment in ${namespace} has no ready pod yet (sluice check says why)`);
}

/** Forwards each connection to 127.0.0.1:`port` to a ready controller pod's dashboard port until `signal`. */
async function forward(config: KubeConfig, namespace: string, port: number, io: CliIo, signal: AbortSignal): Promise<void> {
  const { PortForward } = await import('@kubernetes/client-node');
  const portForward = new PortForward(config);
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    // Resolved per connection: a restarted controller pod is found again without restarting the forward.
    portForward.portForwardDeployment(namespace, CONTROLLER_DEPLOYMENT, [CONTROLLER_DASHBOARD_PORT], socket, null, socket).catch((error: Error) => {
      io.stderr(`sluice dashboard: port-forward failed: ${error.message}\n`);
      socket.destroy();
    });
  });
  const bound = await new Promise<number>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(new CliError(error.code === 'EADDRINUSE' ? `port ${port} on 127.0.0.1 is in use: choose another with --port (0 picks one)` : error.message)),
    );
    server.listen({ host: '127.0.0.1', port }, () => resolve((server.address() as net.AddressInfo).port));
  });
  io.stdout(`Sluice dashboard: http://127.0.0.1:${bound}/ (forwarded to ${namespace}/${CONTROLLER_DEPLOYMENT}:${CONTROLLER_DASHBOARD_PORT}; Ctrl-C to stop)\n`);
  await new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    signal.addEventListener('abort', () => resolve(), { once: true });
  });
  for (const socket of sockets) socket.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}
