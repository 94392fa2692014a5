// The proxy injector as a controller component: serves the mutating admission webhook on
// `--webhook-addr` (8443) when `--webhook-tls-cert` and `--webhook-tls-key` are given. The sidecar is
// built from the install values (`--values`) and the trust anchors (`--identity-trust-anchors-file`),
// both read once at start (install mounts them from the sluice-config and sluice-identity-trust-roots
// ConfigMaps; a change takes a controller restart, as Linkerd's injector).
import { readFileSync } from 'node:fs';
import { formatHostPort } from '../../config/parse.ts';
import { Logger } from '../../log/logger.ts';
import { checkValuesOverride, defaultValues, mergeValues, parseValuesYaml, type Values } from '../../inject/values.ts';
import type { InjectorConfig } from '../config.ts';
import type { Component } from '../context.ts';
import { loadKubeConfig } from '../kubeconfig.ts';
import { kubeLookup, type InjectorLookup } from './kube-lookup.ts';
import { startInjectorServer } from './server.ts';

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: string };
  return pkg.version ?? 'unknown';
}

/** The values the webhook injects with; throws naming the file and field when one is wrong. */
export function injectorValues(config: InjectorConfig, version: string, read: (file: string) => string): Values {
  const file = config.valuesFile === undefined ? {} : parseValuesYaml(read(config.valuesFile), config.valuesFile);
  const anchors =
    config.trustAnchorsFile === undefined ? {} : checkValuesOverride({ identity: { trustAnchorsPEM: read(config.trustAnchorsFile) } }, { name: config.trustAnchorsFile });
  const values = mergeValues(defaultValues(version), file, anchors);
  if (values.identity.trustAnchorsPEM.trim() === '') {
    throw new Error('no trust anchors: give --identity-trust-anchors-file or identity.trustAnchorsPEM in --values');
  }
  return values;
}

export const injectorComponent: Component = async (ctx) => {
  const config = ctx.config.injector;
  const log = new Logger(ctx.log.level, ctx.log.format, 'injector');
  if (config?.tlsCert === undefined || config.tlsKey === undefined) {
    log.info('proxy injector off (no --webhook-tls-cert / --webhook-tls-key)');
    return;
  }
  const version = packageVersion();
  const read = (file: string): string => readFileSync(file, 'utf8');
  let values: Values;
  let tls: { cert: string; key: string };
  try {
    values = injectorValues(config, version, read);
    tls = { cert: read(config.tlsCert), key: read(config.tlsKey) };
  } catch (error) {
    // Pods are still admitted (failurePolicy: Ignore), uninjected; the rest of the controller serves on.
    log.error('proxy injector cannot start; pods will be created without a proxy', { error: (error as Error).message });
    return;
  }
  let lookup: InjectorLookup | undefined;
  if (ctx.config.discovery === 'kubernetes') {
    lookup = await kubeLookup(await loadKubeConfig(process.env, 'proxy injector'));
  } else {
    log.info('no Kubernetes API (file discovery): only pod annotations opt in, owners are not resolved');
  }
  const server = await startInjectorServer(
    { host: config.addr.host, port: config.addr.port, ...tls },
    { values, createdBy: `sluice/proxy-injector ${version}`, lookup, log },
    log,
  ).catch((error: Error) => {
    log.error('cannot listen for the proxy injector', { addr: formatHostPort(config.addr), error: error.message });
    process.exit(1);
  });
  ctx.addresses['injector'] = formatHostPort({ host: config.addr.host, port: server.address.port });
  ctx.onClose(() => server.close());
};
