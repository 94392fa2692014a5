// `sluice-proxy`: the main thread. It owns the listeners, reads each connection's original destination,
// hands the socket to a worker thread (or serves it here with SLUICE_PROXY_WORKERS=0), serves the admin
// endpoints, and runs graceful shutdown. It never reads application bytes.
import net from 'node:net';
import type { HostPort } from '../config/parse.ts';
import { formatHostPort } from '../config/parse.ts';
import { ConfigError, parseProxyConfig, type ProxyConfig } from '../config/proxy-config.ts';
import { authorizationActive } from '../config/inbound-policy-config.ts';
import { Logger } from '../log/logger.ts';
import { labels, mergeSnapshots, renderPrometheus, type FamilySnapshot, type Snapshot } from '../telemetry/metrics.ts';
import { processMetrics } from '../telemetry/process-metrics.ts';
import type { Direction } from '../telemetry/proxy-metrics.ts';
import { namesListener, type ConnectionInfo } from '../workers/proxy/routing.ts';
import type { ProxyStacks } from '../workers/proxy/stacks.ts';
import { createAdminServer } from './admin.ts';
import { mallocTrim, originalDst } from '../core/syscalls.ts';
import { startIdleTrim } from './idle-trim.ts';
import { performance } from 'node:perf_hooks';
import type { RunningIdentity } from './identity/start-identity.ts';
import { startTapListener, type TapListener } from './tap-listener.ts';
import type { TapTls } from './tap-tls.ts';
import type { TelemetryReporter } from './telemetry-reporter.ts';
import { WorkerPool } from './worker-pool.ts';

function loadConfig(): ProxyConfig {
  try {
    return parseProxyConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`sluice-proxy: invalid configuration: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
}

function listen(server: net.Server, addr: HostPort): Promise<HostPort> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: addr.host, port: addr.port, backlog: 1024 }, () => {
      server.removeListener('error', reject);
      const bound = server.address() as net.AddressInfo;
      resolve({ host: addr.host, port: bound.port });
    });
  });
}

async function startLocalStacks(config: ProxyConfig, log: Logger): Promise<ProxyStacks> {
  const [{ WorkerContext }, { ProxyStacks }] = await Promise.all([import('../workers/proxy/context.ts'), import('../workers/proxy/stacks.ts')]);
  const stacks = new ProxyStacks(new WorkerContext(config, log));
  if (authorizationActive(config.inboundPolicy)) await stacks.enableAuthorization();
  return stacks;
}

/**
 * How the Tap port is secured: with identity on, mutual TLS that serves only SLUICE_PROXY_TAP_SVC_NAME
 * (tap is off without that name, as in Linkerd); without identity, plaintext (undefined).
 */
async function tapTransport(config: ProxyConfig, identity: RunningIdentity | undefined, log: Logger): Promise<TapTls | undefined | 'off'> {
  if (config.tapListen === undefined) return undefined;
  if (identity === undefined) {
    if (config.tapSvcName !== undefined) log.info('identity is off: tap is served in plaintext to whoever reaches its port', { tapSvcName: config.tapSvcName });
    return undefined;
  }
  if (config.tapSvcName === undefined) {
    log.warn('tap is off: identity is on and SLUICE_PROXY_TAP_SVC_NAME names no controller to serve');
    return 'off';
  }
  const { TapTls } = await import('./tap-tls.ts');
  const transport = new TapTls(log, config.tapSvcName);
  // Each certificate, the first and every renewal, serves the handshakes that follow it.
  identity.provider.onIdentity((certificate) => transport.setIdentity(certificate));
  if (identity.provider.current !== undefined) transport.setIdentity(identity.provider.current);
  return transport;
}

async function main(): Promise<void> {
  const config = loadConfig();
  const log = new Logger(config.logLevel, config.logFormat, 'proxy');
  const pool = config.workers > 0 ? new WorkerPool(config, log) : undefined;
  // Without workers the main thread serves connections itself, with the same stacks a worker builds.
  // Loaded only then: with workers, the main thread never holds a stack.
  const local = pool === undefined ? await startLocalStacks(config, log) : undefined;
  await pool?.ready();
  // The proxy's certificate, with identity configured: loaded only then (X.509 and gRPC stay out of a
  // proxy without it). Each certificate goes to every worker, or to the main thread's own stacks.
  const identity =
    config.identity === undefined
      ? undefined
      : await (await import('./identity/start-identity.ts')).startIdentity(config.identity, config.controlBackoff, log, (certificate) => {
          pool?.setIdentity(certificate);
          if (local !== undefined) local.ctx.identity = certificate;
        });
  // Control-plane discovery only with a controller configured; a proxy without one never loads gRPC.
  const discovery = config.destinationAddr === undefined ? undefined : (await import('./start-discovery.ts')).startDiscovery(config, log, pool, local);
  // Inbound policy from the controller, only with a policy service configured (docs/authorization.md).
  const policyAddr = config.inboundPolicy.svcAddr;
  const policies =
    policyAddr === undefined
      ? undefined
      : new (await import('./inbound-policy-watch.ts')).InboundPolicyWatcher(
          {
            addr: policyAddr,
            workload: config.inboundPolicy.workload,
            maxWatchedPorts: config.inboundPolicy.maxWatchedPorts,
            initialTimeoutMs: config.controlStreamInitialTimeoutMs,
            backoff: config.controlBackoff,
          },
          log,
          (port, policy) => {
            pool?.setInboundPolicy(port, policy);
            local?.updateInboundPolicy(port, policy);
          },
        );

  const accept = (direction: Direction, bound: () => HostPort) => (socket: net.Socket) => {
    const listenAddr = bound();
    let dst = originalDst(socket);
    // With conntrack but no redirect, the kernel reports our own address: that is no destination.
    if (dst !== undefined && namesListener(dst, listenAddr)) dst = undefined;
    const info: ConnectionInfo = { direction, originalDst: dst, listen: listenAddr };
    // Inbound, with a policy service: the first connection to a port waits (paused) for its policy.
    const port = direction === 'inbound' && policies !== undefined ? (dst ?? config.inboundForwardAddr)?.port : undefined;
    const waiting = port === undefined ? undefined : policies?.ready(port);
    if (waiting === undefined) handOff(socket, info);
    else void waiting.then(() => (socket.destroyed ? undefined : handOff(socket, info)));
  };
  const handOff = (socket: net.Socket, info: ConnectionInfo): void => {
    if (pool !== undefined) pool.handOff(socket, info);
    else local?.serve(socket, info);
  };

  const listeners: net.Server[] = [];
  let ready = false;
  const addresses: Record<string, string> = {};
  for (const [direction, addr] of [
    ['inbound', config.inboundListen],
    ['outbound', config.outboundListen],
  ] as const) {
    let bound: HostPort = addr;
    // Paused: nothing is read here, so the worker that adopts the descriptor sees every byte.
    const server = net.createServer({ pauseOnConnect: true, allowHalfOpen: true, noDelay: true });
    server.on('connection', accept(direction, () => bound));
    server.on('error', (error) => log.error('listener error', { direction, error: error.message }));
    try {
      bound = await listen(server, addr);
    } catch (error) {
      log.error(`cannot listen for ${direction} connections`, { addr: formatHostPort(addr), error: (error as Error).message });
      process.exit(1);
    }
    listeners.push(server);
    addresses[direction] = formatHostPort(bound);
  }

  let tap: TapListener | undefined;
  const gather = async (): Promise<string> => {
    const snapshots: Snapshot[] = pool !== undefined ? await pool.snapshots() : [local?.ctx.snapshot() ?? []];
    const extra: FamilySnapshot[] = [...processMetrics()];
    if (pool !== undefined) {
      const series = Array.from({ length: pool.size }, (_, i) => [labels({ worker: i }), Atomics.load(pool.openConnections, i)] as const);
      extra.push({ name: 'proxy_worker_open_connections', help: 'Client connections open on each worker thread.', kind: 'gauge', series });
    }
    extra.push(...(tap?.metrics() ?? []));
    extra.push(...(identity?.provider.metrics() ?? []));
    extra.push({ name: 'proxy_build_info', help: 'Proxy build information.', kind: 'gauge', series: [[labels({ version: '0.1.0', node: process.version, workers: config.workers }), 1]] });
    return renderPrometheus([...mergeSnapshots(snapshots), ...extra]);
  };

  let shuttingDown = false;
  let reporter: TelemetryReporter | undefined;
  const shutdown = async (reason: string): Promise<void> => {
    if (shuttingDown) return;
    shuttingDown = true;
    ready = false;
    log.info('shutting down: no new connections; draining', { reason, gracePeriodMs: config.shutdownGracePeriodMs });
    for (const server of listeners) server.close();
    tap?.close();
    identity?.close();
    if (pool !== undefined) await pool.drain(config.shutdownGracePeriodMs);
    else await local?.drain(config.shutdownGracePeriodMs);
    discovery?.close();
    policies?.close();
    // The last counts, if the controller answers within a second.
    await reporter?.stop(1000);
    log.info('drained; exiting');
    admin.closeAllConnections();
    admin.close();
    process.exit(0);
  };

  const admin = createAdminServer({
    metrics: gather,
    // Linkerd's rule: not ready until the proxy holds a certificate (when identity is on).
    ready: () => ready && (identity === undefined || identity.provider.current !== undefined),
    logLevel: () => log.level,
    setLogLevel: (level) => {
      log.level = level; // also the level of `local`, which shares this logger
      pool?.setLogLevel(level);
    },
    shutdown: config.shutdownEndpointEnabled ? () => void shutdown('admin /shutdown') : undefined,
  });
  try {
    addresses['admin'] = formatHostPort(await listen(admin.server, config.adminListen));
  } catch (error) {
    log.error('cannot listen for admin requests', { addr: formatHostPort(config.adminListen), error: (error as Error).message });
    process.exit(1);
  }

  const tapSecurity = await tapTransport(config, identity, log);
  const tapTls = tapSecurity === 'off' ? undefined : tapSecurity;
  const tapStarted = await startTapListener(
    tapSecurity === 'off' ? undefined : config.tapListen,
    log,
    async () => {
      const { TapServer } = await import('./tap-server.ts');
      const requiredClient = tapTls?.clientName;
      return pool !== undefined ? TapServer.forPool(log, pool, requiredClient) : TapServer.forContext(log, (local as ProxyStacks).ctx, requiredClient);
    },
    tapTls,
  );
  tap = tapStarted?.listener;
  if (tapStarted !== undefined) addresses['tap'] = formatHostPort(tapStarted.bound);

  if (config.telemetry.svcAddr !== undefined) {
    // Loaded only when reporting: a proxy without a controller does not load the gRPC client.
    const { startTelemetryReporter } = await import('./telemetry-reporter.ts');
    reporter = startTelemetryReporter(config.telemetry, log, pool, local?.ctx);
  }

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (shuttingDown && signal === 'SIGINT') {
        log.warn('second interrupt: exiting without draining');
        process.exit(130);
      }
      void shutdown(signal);
    });
  }
  startIdleTrim({
    intervalMs: config.memoryTrimIntervalMs,
    threads: () => (pool === undefined ? [performance] : [performance, ...pool.eluSources()]),
    trim: mallocTrim,
    onTrim: (before, after, ms) => log.debug('idle: gave freed memory back', { rssBeforeMB: Math.round(before / 1e5) / 10, rssAfterMB: Math.round(after / 1e5) / 10, ms: Math.round(ms * 100) / 100 }),
  });
  ready = true;
  // Listening; with identity on, /ready follows once the first certificate is held.
  log.info('proxy ready', { ...addresses, workers: config.workers, ...(identity === undefined ? {} : { identity: identity.provider.current === undefined ? 'pending' : 'certified' }) });
}

await main();
