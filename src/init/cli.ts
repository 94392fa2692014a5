// sluice-init: the init container that writes a pod's nat-table iptables rules so that the app's TCP
// traffic goes through the sidecar proxy. Flags and behaviour follow Linkerd's proxy-init.
//
//   sluice-init [--incoming-proxy-port 4143] [--outgoing-proxy-port 4140] [--proxy-uid 2102] ...
//
// Exit status: 0 done, 1 an iptables command failed, 2 bad command line.

import { spawnSync } from 'node:child_process';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import {
  formatCommand,
  InitOptionError,
  ip6Variant,
  natCommands,
  parseInitOptions,
  type InitOptions,
  type IpFamily,
} from './rules.ts';

export const USAGE = `Usage: sluice-init [flags]

Writes the nat-table iptables rules that send a pod's TCP traffic through the Sluice proxy:
inbound TCP is redirected to the inbound proxy port, outbound TCP (except the proxy's own) to the
outbound proxy port. Safe to run again: the chains are recreated, never duplicated.

Flags:
  --incoming-proxy-port <port>        port inbound traffic is redirected to (default 4143)
  --outgoing-proxy-port <port>        port outbound traffic is redirected to (default 4140)
  --proxy-uid <uid>                   uid the proxy runs as; its traffic is not redirected (default 2102)
  --proxy-gid <gid>                   gid the proxy runs as; its traffic is not redirected (default: none)
  --inbound-ports-to-ignore <ports>   inbound ports not redirected, e.g. 25,8000-8100 (4190,4191 always)
  --outbound-ports-to-ignore <ports>  outbound ports not redirected, e.g. 443,6443
  --ports-to-redirect <ports>         redirect only these inbound ports (default: all)
  --subnets-to-ignore <cidrs>         inbound traffic from these source subnets is not redirected
  --firewall-bin-path <path>          iptables binary: iptables, iptables-nft or iptables-legacy (default iptables)
  --firewall-save-bin-path <path>     matching save binary (default iptables-save)
  --ipv6                              also write the rules with ip6tables (default false)
  --use-wait-flag                     pass -w to iptables (wait for the xtables lock)
  --simulate                          print the commands instead of running them
  -h, --help                          show this help

List flags take comma-separated values and may be repeated.`;

export interface CliConfig {
  options: InitOptions;
  firewallBin: string;
  firewallSaveBin: string;
  ipv6: boolean;
  useWaitFlag: boolean;
  simulate: boolean;
}

export type ParsedCli = { kind: 'help' } | { kind: 'run'; config: CliConfig };

const BOOLEAN_FLAGS = ['ipv6', 'simulate', 'use-wait-flag', 'help'];

/** Go-style `--flag=true|false` (what Linkerd's manifests pass) → `--flag` / `--no-flag`. */
function normaliseBooleans(argv: readonly string[]): string[] {
  return argv.map((arg) => {
    const m = /^--([a-z0-9-]+)=(.*)$/.exec(arg);
    if (m === null || !BOOLEAN_FLAGS.includes(m[1] ?? '')) return arg;
    const value = (m[2] ?? '').toLowerCase();
    if (value === 'true' || value === '1') return `--${m[1]}`;
    if (value === 'false' || value === '0') return `--no-${m[1]}`;
    throw new InitOptionError(`--${m[1]}`, `${JSON.stringify(m[2])} is not a boolean (expected true or false)`);
  });
}

const FIREWALL_BIN = /^iptables(-legacy|-nft)?$/;
const FIREWALL_SAVE_BIN = /^iptables(-legacy|-nft)?-save$/;

function checkFirewallBins(bin: string, saveBin: string): void {
  const m = FIREWALL_BIN.exec(basename(bin));
  if (m === null) {
    throw new InitOptionError('--firewall-bin-path', `${JSON.stringify(bin)} is not iptables, iptables-nft or iptables-legacy`);
  }
  const s = FIREWALL_SAVE_BIN.exec(basename(saveBin));
  if (s === null) {
    throw new InitOptionError(
      '--firewall-save-bin-path',
      `${JSON.stringify(saveBin)} is not iptables-save, iptables-nft-save or iptables-legacy-save`,
    );
  }
  // Plain `iptables` follows the system default; an explicit backend must match on both sides, or the
  // rules would be read back from a different table set than the one written.
  const backend = m[1] ?? '';
  const saveBackend = s[1] ?? '';
  if (backend !== '' && saveBackend !== '' && backend !== saveBackend) {
    throw new InitOptionError('--firewall-save-bin-path', `${saveBin} does not match --firewall-bin-path ${bin}`);
  }
}

/** Parses the command line; throws `InitOptionError` (naming the flag) or parseArgs' own errors. */
export function parseCli(argv: readonly string[]): ParsedCli {
  const { values, positionals } = parseArgs({
    args: normaliseBooleans(argv),
    strict: true,
    allowPositionals: true,
    allowNegative: true,
    options: {
      'incoming-proxy-port': { type: 'string' },
      'outgoing-proxy-port': { type: 'string' },
      'proxy-uid': { type: 'string' },
      'proxy-gid': { type: 'string' },
      'inbound-ports-to-ignore': { type: 'string', multiple: true },
      'outbound-ports-to-ignore': { type: 'string', multiple: true },
      'ports-to-redirect': { type: 'string', multiple: true },
      'subnets-to-ignore': { type: 'string', multiple: true },
      'firewall-bin-path': { type: 'string', default: 'iptables' },
      'firewall-save-bin-path': { type: 'string', default: 'iptables-save' },
      ipv6: { type: 'boolean', default: false },
      'use-wait-flag': { type: 'boolean', default: false },
      simulate: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return { kind: 'help' };
  if (positionals.length > 0) {
    throw new InitOptionError(positionals[0] ?? '', 'unexpected argument (sluice-init takes only flags; see --help)');
  }
  const options = parseInitOptions({
    incomingProxyPort: values['incoming-proxy-port'],
    outgoingProxyPort: values['outgoing-proxy-port'],
    proxyUid: values['proxy-uid'],
    proxyGid: values['proxy-gid'],
    inboundPortsToIgnore: values['inbound-ports-to-ignore'],
    outboundPortsToIgnore: values['outbound-ports-to-ignore'],
    portsToRedirect: values['ports-to-redirect'],
    subnetsToIgnore: values['subnets-to-ignore'],
  });
  const firewallBin = values['firewall-bin-path'];
  const firewallSaveBin = values['firewall-save-bin-path'];
  checkFirewallBins(firewallBin, firewallSaveBin);
  return {
    kind: 'run',
    config: {
      options,
      firewallBin,
      firewallSaveBin,
      ipv6: values.ipv6,
      useWaitFlag: values['use-wait-flag'],
      simulate: values.simulate,
    },
  };
}

export interface CliIo {
  out: (text: string) => void;
  err: (text: string) => void;
  /** Runs a binary; status null when it could not be started (see `error`). */
  exec: (bin: string, args: readonly string[]) => { status: number | null; stdout: string; stderr: string; error?: Error };
}

function defaultExec(bin: string, args: readonly string[]): ReturnType<CliIo['exec']> {
  const r = spawnSync(bin, args, { encoding: 'utf8' });
  return r.error === undefined
    ? { status: r.status, stdout: r.stdout, stderr: r.stderr }
    : { status: null, stdout: '', stderr: '', error: r.error };
}

const defaultIo: CliIo = {
  out: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
  err: (text) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
  exec: defaultExec,
};

class CommandFailed extends Error {}

function describeFailure(bin: string, args: readonly string[], r: ReturnType<CliIo['exec']>): string {
  const cmd = formatCommand(bin, args);
  if (r.error !== undefined) return `could not run ${cmd}: ${r.error.message}`;
  const detail = `${r.stderr}${r.stdout}`.trim();
  return `${cmd} failed (exit ${r.status ?? 'signal'})${detail === '' ? '' : `: ${detail}`}`;
}

function readNat(io: CliIo, saveBin: string): ReturnType<CliIo['exec']> {
  return io.exec(saveBin, ['-t', 'nat']);
}

function applyFamily(io: CliIo, config: CliConfig, family: IpFamily): void {
  const bin = family === 4 ? config.firewallBin : ip6Variant(config.firewallBin);
  const saveBin = family === 4 ? config.firewallSaveBin : ip6Variant(config.firewallSaveBin);
  const label = family === 4 ? 'IPv4' : 'IPv6';

  const current = readNat(io, saveBin);
  let currentSave = '';
  if (current.status === 0) {
    currentSave = current.stdout;
  } else if (config.simulate) {
    io.out(`# ${label}: could not read the current rules (${describeFailure(saveBin, ['-t', 'nat'], current)}); assuming none`);
  } else {
    throw new CommandFailed(describeFailure(saveBin, ['-t', 'nat'], current));
  }

  const wait = config.useWaitFlag ? ['-w'] : [];
  const commands = natCommands(config.options, family, currentSave).map((args) => [...wait, ...args]);
  io.out(`# ${label} rules${config.simulate ? ' (simulate: nothing is changed)' : ''}`);
  for (const args of commands) {
    io.out(formatCommand(bin, args));
    if (config.simulate) continue;
    const r = io.exec(bin, args);
    if (r.status !== 0) throw new CommandFailed(describeFailure(bin, args, r));
  }
  if (config.simulate) return;

  // Show the resulting state in the container log.
  const after = readNat(io, saveBin);
  if (after.status !== 0) throw new CommandFailed(describeFailure(saveBin, ['-t', 'nat'], after));
  io.out(`# ${formatCommand(saveBin, ['-t', 'nat'])}`);
  io.out(after.stdout);
}

/** parseArgs' messages, shortened to name the flag first like ours do. */
function cliErrorMessage(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const flag = /'([^']+)'/.exec(error.message)?.[1] ?? '?';
    return `${flag}: unknown flag`;
  }
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    const flag = /'(--?[a-z0-9-]+)/.exec(error.message)?.[1];
    if (flag !== undefined) return `${flag}: ${error.message}`;
  }
  return error.message;
}

/** Runs sluice-init; returns the exit status. */
export function main(argv: readonly string[], io: CliIo = defaultIo): number {
  let parsed: ParsedCli;
  try {
    parsed = parseCli(argv);
  } catch (error) {
    io.err(`sluice-init: ${cliErrorMessage(error)}`);
    io.err('Run sluice-init --help for the flags.');
    return 2;
  }
  if (parsed.kind === 'help') {
    io.out(USAGE);
    return 0;
  }
  const { config } = parsed;
  const v6Subnets = config.options.subnetsToIgnore.filter((s) => s.family === 6);
  if (!config.ipv6 && v6Subnets.length > 0) {
    io.err(`sluice-init: warning: --subnets-to-ignore ${v6Subnets.map((s) => s.cidr).join(',')} are IPv6 and --ipv6 is off; they are not used`);
  }
  try {
    applyFamily(io, config, 4);
    if (config.ipv6) applyFamily(io, config, 6);
  } catch (error) {
    if (!(error instanceof CommandFailed)) throw error;
    io.err(`sluice-init: ${error.message}`);
    return 1;
  }
  return 0;
}

if (import.meta.main) process.exitCode = main(process.argv.slice(2));
