// `sluice version`: the CLI's version and the controller's (Linkerd prints both the same way).
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { VersionInfo } from '../api/public-messages.ts';
import { ApiClient, apiBaseUrl, CliError } from './api-client.ts';
import type { CliIo } from './io.ts';

export const VERSION_USAGE = `Print the client and server version information.

Usage:
  sluice version [flags]

Flags:
      --client          print the client version only (no controller needed)
      --short           print the version numbers only
      --api HOST:PORT   the controller's public API (default: SLUICE_API_ADDR, else 127.0.0.1:8085)
  -h, --help
`;

const OPTIONS = {
  client: { type: 'boolean' },
  short: { type: 'boolean' },
  api: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export function clientVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

export async function run(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true });
  if (values.help === true) {
    io.stdout(VERSION_USAGE);
    return 0;
  }
  if (positionals.length > 0) throw new CliError(`version takes no arguments (got "${positionals.join(' ')}")`, 2);
  const short = values.short === true;
  io.stdout(short ? `${clientVersion()}\n` : `Client version: ${clientVersion()}\n`);
  if (values.client === true) return 0;
  const client = new ApiClient(apiBaseUrl(values.api, io.env));
  try {
    const info = await client.call<VersionInfo>('Version');
    io.stdout(short ? `${info.releaseVersion ?? ''}\n` : `Server version: ${info.releaseVersion ?? 'unknown'}\n`);
    return 0;
  } catch (error) {
    if (!(error instanceof CliError)) throw error;
    // As Linkerd: the client version is still useful, the server's is reported missing.
    io.stdout(short ? 'unavailable\n' : 'Server version: unavailable\n');
    io.stderr(`${error.message}\n`);
    return 0;
  }
}
