// `sluice-controller`: discovery, identity, telemetry, tap relay and the public API in one process.
import * as grpc from '@grpc/grpc-js';
import { ConfigError, formatHostPort } from '../config/parse.ts';
import { Logger } from '../log/logger.ts';
import { startControllerAdmin } from './admin.ts';
import { components } from './components.ts';
import { USAGE, parseControllerConfig, type ControllerConfig } from './config.ts';
import { ControllerIdentity, PublicApiRegistry, type ControllerContext } from './context.ts';
import { createDiscovery } from './discovery/create.ts';

function loadConfig(): ControllerConfig {
  try {
    const parsed = parseControllerConfig(process.argv.slice(2), process.env);
    if (parsed === 'help') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    }
    return parsed;
  } catch (error) {
    if (error instanceof ConfigError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`sluice-controller: ${(error as Error).message}\n\n${USAGE}\n`);
      process.exit(2);
    }
    throw error;
  }
}

async function main(): Promise<void> {
  const config = loadConfig();
  const log = new Logger(config.logLevel, config.logFormat, 'controller');
  // Up before discovery syncs: live (not restarted) while the first lists run, ready only at the end.
  const admin = await startControllerAdmin(config.adminAddr).catch((error: Error) => {
    log.error('cannot listen for the admin server', { addr: formatHostPort(config.adminAddr), error: error.message });
    process.exit(1);
  });
  const discovery = await createDiscovery(config, log);
  await discovery.ready();

  const closers: Array<() => void | Promise<void>> = [];
  const addresses: Record<string, string> = { admin: formatHostPort(admin.address) };
  const proxyApi = new grpc.Server({ 'grpc.enable_channelz': 0 });
  const ctx: ControllerContext = {
    config,
    log,
    discovery,
    proxyApi,
    publicApi: new PublicApiRegistry(),
    addresses,
    identity: new ControllerIdentity(),
    addMetrics: (source) => admin.addMetrics(source),
    onClose: (close) => closers.push(close),
  };
  for (const component of components) await component(ctx);

  const proxyApiPort = await new Promise<number>((resolve, reject) =>
    proxyApi.bindAsync(formatHostPort(config.proxyApiAddr), grpc.ServerCredentials.createInsecure(), (error, port) =>
      error === null ? resolve(port) : reject(error),
    ),
  ).catch((error: Error) => {
    log.error('cannot listen for proxies', { addr: formatHostPort(config.proxyApiAddr), error: error.message });
    process.exit(1);
  });
  addresses['proxy-api'] = formatHostPort({ host: config.proxyApiAddr.host, port: proxyApiPort });

  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log.info('shutting down', { signal });
    for (const close of closers.reverse()) await close();
    proxyApi.forceShutdown();
    discovery.close();
    await admin.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  admin.markReady();
  log.info('controller ready', { ...addresses, discovery: config.discovery });
}

await main();
