// Wires control-plane discovery into the proxy's main thread: one Destination client, one hub that
// shares each destination's streams among the workers (or the main thread's own runtime when
// SLUICE_PROXY_WORKERS=0), and the messages between them. Loaded only when a controller is configured.
import type { ProxyConfig } from '../config/proxy-config.ts';
import { formatHostPort } from '../config/parse.ts';
import type { Logger } from '../log/logger.ts';
import type { ProxyStacks } from '../workers/proxy/stacks.ts';
import { DestinationClient } from './destination-client.ts';
import { DiscoveryHub } from './discovery-hub.ts';
import type { WorkerPool } from './worker-pool.ts';

/** The subscriber id of the main thread's own runtime (workers are 0…n-1). */
const MAIN_THREAD = -1;

export interface Discovery {
  readonly hub: DiscoveryHub;
  close(): void;
}

export function startDiscovery(config: ProxyConfig, log: Logger, pool: WorkerPool | undefined, local: ProxyStacks | undefined): Discovery | undefined {
  const addr = config.destinationAddr;
  if (addr === undefined) return undefined;
  const client = new DestinationClient(
    {
      addr,
      contextToken: config.destinationContext,
      initialTimeoutMs: config.controlStreamInitialTimeoutMs,
      backoff: config.controlBackoff,
    },
    log,
  );
  const hub = new DiscoveryHub(client, log);
  if (pool !== undefined) {
    pool.discoveryHooks = {
      message: (worker, message) => {
        if (message.type === 'resolve') hub.subscribe(worker, message.authority, (authority, state) => pool.postDiscovery(worker, authority, state));
        else hub.unsubscribe(worker, message.authority);
      },
      replaced: (worker) => hub.dropSubscriber(worker),
    };
  }
  if (local !== undefined) {
    local.enableDiscovery({
      resolve: (authority) => hub.subscribe(MAIN_THREAD, authority, (name, state) => local.updateDestination(name, state)),
      release: (authority) => hub.unsubscribe(MAIN_THREAD, authority),
    });
  }
  log.info('control plane: resolving outbound destinations with the Destination service', {
    addr: formatHostPort(addr),
    suffixes: config.destinationProfileSuffixes.join(','),
  });
  return {
    hub,
    close: () => {
      hub.close();
      client.close();
    },
  };
}
