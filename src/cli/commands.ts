// The `sluice` subcommands: one line each. A command is a module exporting `run(args, io)`, loaded only
// when it is the one asked for (so `sluice version` does not load what `sluice tap` needs).
import type { CliIo } from './io.ts';

export type RunCommand = (args: string[], io: CliIo) => Promise<number>;

export interface CommandEntry {
  readonly summary: string;
  readonly load: () => Promise<{ run: RunCommand }>;
}

export const COMMANDS: Readonly<Record<string, CommandEntry>> = {
  stat: { summary: 'Golden metrics of resources: success rate, requests per second, latency', load: () => import('./stat.ts') },
  routes: { summary: 'Golden metrics per route of a resource (ServiceProfile routes)', load: () => import('./routes.ts') },
  edges: { summary: 'Which resources talk to which, and whether over mTLS (identities of both ends)', load: () => import('./edges.ts') },
  tap: { summary: 'Watch the requests of a resource as they happen, one line per event', load: () => import('./tap.ts') },
  top: { summary: 'Live table of the requests of a resource, most frequent first', load: () => import('./top.ts') },
  dashboard: { summary: 'Print the web dashboard\'s URL (port-forwarding to it in a cluster)', load: () => import('./dashboard.ts') },
  install: { summary: 'Print the control plane manifests (sluice install | kubectl apply -f -)', load: () => import('./install.ts') },
  uninstall: { summary: 'Print what removes the control plane (… | kubectl delete -f -)', load: () => import('./uninstall.ts') },
  check: { summary: 'Check the cluster, the control plane and the data plane', load: () => import('./check.ts') },
  inject: { summary: 'Add the Sluice proxy to Kubernetes workloads in manifests', load: () => import('./inject.ts') },
  uninject: { summary: 'Remove the Sluice proxy from Kubernetes workloads in manifests', load: () => import('./uninject.ts') },
  identity: { summary: 'Generate and inspect identity certificates (trust anchor, issuer); local-mesh tokens', load: () => import('./identity.ts') },
  version: { summary: 'Print the CLI and controller versions', load: () => import('./version.ts') },
};
