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
  tap: { summary: 'Watch the requests of a resource as they happen, one line per event', load: () => import('./tap.ts') },
  top: { summary: 'Live table of the requests of a resource, most frequent first', load: () => import('./top.ts') },
  identity: { summary: 'Generate and inspect identity certificates (trust anchor, issuer); local-mesh tokens', load: () => import('./identity.ts') },
  version: { summary: 'Print the CLI and controller versions', load: () => import('./version.ts') },
};
