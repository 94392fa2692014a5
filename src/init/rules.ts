// sluice-init rules: pure functions from validated options to the nat-table iptables commands that
// steer a pod's TCP traffic through the sidecar proxy (Linkerd proxy-init behaviour and chain names).
//
//   PREROUTING ─▶ PROXY_INIT_REDIRECT   RETURN ignored inbound ports (always 4190, 4191)
//                                       RETURN ignored source subnets
//                                       REDIRECT tcp (all, or only --ports-to-redirect) → 4143
//   OUTPUT     ─▶ PROXY_INIT_OUTPUT     RETURN uid-owner <proxy uid>  (and gid-owner <proxy gid>)
//                                       RETURN -o lo
//                                       RETURN ignored outbound ports
//                                       REDIRECT tcp → 4140
//
// Nothing here does I/O: the CLI reads the current table with iptables-save, passes the text in, and
// runs the commands returned. Re-running is idempotent: the chains are created or flushed, existing
// jumps into them are deleted, and exactly one jump is appended after the chain is complete.

import { isIPv4, isIPv6 } from 'node:net';

export const REDIRECT_CHAIN = 'PROXY_INIT_REDIRECT';
export const OUTPUT_CHAIN = 'PROXY_INIT_OUTPUT';
export const COMMENT_PREFIX = 'proxy-init/';

/** Ports the proxy itself serves that must never be redirected inbound: tap (4190) and admin (4191). */
export const ALWAYS_IGNORED_INBOUND_PORTS: readonly number[] = [4190, 4191];

/** iptables' multiport match takes at most 15 ports per rule; a range `a:b` counts as two. */
export const MULTIPORT_MAX = 15;

export const DEFAULTS = {
  incomingProxyPort: 4143,
  outgoingProxyPort: 4140,
  proxyUid: 2102,
} as const;

export type IpFamily = 4 | 6;

/** One port (`from === to`) or an inclusive range. */
export interface PortSpec {
  from: number;
  to: number;
}

export interface Subnet {
  family: IpFamily;
  /** As given, e.g. `10.0.0.0/8` or `fd00::/8` (a bare address becomes `/32` or `/128`). */
  cidr: string;
}

/** Validated options: what `parseInitOptions` returns and what the rule builders take. */
export interface InitOptions {
  incomingProxyPort: number;
  outgoingProxyPort: number;
  proxyUid: number;
  /** Only when set is a `--gid-owner` RETURN rule written. */
  proxyGid: number | undefined;
  /** Always starts with 4190 and 4191; duplicates removed, order kept. */
  inboundPortsToIgnore: PortSpec[];
  outboundPortsToIgnore: PortSpec[];
  /** Empty: redirect all inbound TCP. Otherwise only these destination ports (redirect-listed mode). */
  portsToRedirect: number[];
  subnetsToIgnore: Subnet[];
}

/**
 * Raw option values as they come from the command line (each list flag may be repeated and each
 * value may hold a comma-separated list). Missing values take Linkerd's defaults.
 */
export interface RawInitOptions {
  incomingProxyPort?: string | number | undefined;
  outgoingProxyPort?: string | number | undefined;
  proxyUid?: string | number | undefined;
  proxyGid?: string | number | undefined;
  inboundPortsToIgnore?: readonly string[] | string | undefined;
  outboundPortsToIgnore?: readonly string[] | string | undefined;
  portsToRedirect?: readonly string[] | string | undefined;
  subnetsToIgnore?: readonly string[] | string | undefined;
}

/** A bad option value; `flag` names the command-line flag (e.g. `--proxy-uid`). */
export class InitOptionError extends Error {
  readonly flag: string;
  constructor(flag: string, message: string) {
    super(`${flag}: ${message}`);
    this.name = 'InitOptionError';
    this.flag = flag;
  }
}

// ── validation ──────────────────────────────────────────────────────────────────────────────────

const DIGITS = /^[0-9]+$/;

function parseInteger(flag: string, value: string | number, what: string, min: number, max: number): number {
  const text = typeof value === 'number' ? String(value) : value.trim();
  if (!DIGITS.test(text)) {
    throw new InitOptionError(flag, `${JSON.stringify(String(value))} is not a valid ${what} (expected an integer ${min}–${max})`);
  }
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new InitOptionError(flag, `${what} ${text} is out of range (expected ${min}–${max})`);
  }
  return n;
}

function parsePort(flag: string, value: string | number): number {
  return parseInteger(flag, value, 'port', 1, 65535);
}

/** Splits repeated, comma-separated flag values into trimmed, non-empty items. */
function listItems(value: readonly string[] | string | undefined): string[] {
  if (value === undefined) return [];
  const values = typeof value === 'string' ? [value] : value;
  const items: string[] = [];
  for (const v of values) {
    for (const part of v.split(',')) {
      const item = part.trim();
      if (item !== '') items.push(item);
    }
  }
  return items;
}

/** `8080` or `8000-8100` (Linkerd's form; `8000:8100` is accepted too). */
export function parsePortSpec(flag: string, item: string): PortSpec {
  const m = /^([^-:]+)[-:]([^-:]+)$/.exec(item);
  if (m === null) {
    const port = parsePort(flag, item);
    return { from: port, to: port };
  }
  const from = parsePort(flag, m[1] ?? '');
  const to = parsePort(flag, m[2] ?? '');
  if (from > to) {
    throw new InitOptionError(flag, `port range ${JSON.stringify(item)} is reversed (start ${from} > end ${to})`);
  }
  return { from, to };
}

function addUnique(list: PortSpec[], spec: PortSpec): void {
  if (!list.some((p) => p.from === spec.from && p.to === spec.to)) list.push(spec);
}

export function parseSubnet(flag: string, item: string): Subnet {
  const slash = item.indexOf('/');
  const address = slash === -1 ? item : item.slice(0, slash);
  const family: IpFamily | undefined = isIPv4(address) ? 4 : isIPv6(address) ? 6 : undefined;
  if (family === undefined) {
    throw new InitOptionError(flag, `${JSON.stringify(item)} is not a valid CIDR (expected e.g. 10.0.0.0/8 or fd00::/8)`);
  }
  const maxPrefix = family === 4 ? 32 : 128;
  if (slash === -1) return { family, cidr: `${address}/${maxPrefix}` };
  const prefixText = item.slice(slash + 1);
  if (!DIGITS.test(prefixText) || Number(prefixText) > maxPrefix) {
    throw new InitOptionError(
      flag,
      `${JSON.stringify(item)} is not a valid CIDR (prefix length must be 0–${maxPrefix} for IPv${family})`,
    );
  }
  return { family, cidr: `${address}/${Number(prefixText)}` };
}

/** Validates raw option values, fills in defaults, and throws `InitOptionError` naming the flag. */
export function parseInitOptions(raw: RawInitOptions = {}): InitOptions {
  const incomingProxyPort =
    raw.incomingProxyPort === undefined ? DEFAULTS.incomingProxyPort : parsePort('--incoming-proxy-port', raw.incomingProxyPort);
  const outgoingProxyPort =
    raw.outgoingProxyPort === undefined ? DEFAULTS.outgoingProxyPort : parsePort('--outgoing-proxy-port', raw.outgoingProxyPort);
  // uid/gid 4294967295 is (uid_t)-1, "no id"; everything below it is a real id.
  const proxyUid = raw.proxyUid === undefined ? DEFAULTS.proxyUid : parseInteger('--proxy-uid', raw.proxyUid, 'uid', 0, 4294967294);
  const proxyGid = raw.proxyGid === undefined ? undefined : parseInteger('--proxy-gid', raw.proxyGid, 'gid', 0, 4294967294);

  const inboundPortsToIgnore: PortSpec[] = ALWAYS_IGNORED_INBOUND_PORTS.map((p) => ({ from: p, to: p }));
  for (const item of listItems(raw.inboundPortsToIgnore)) {
    addUnique(inboundPortsToIgnore, parsePortSpec('--inbound-ports-to-ignore', item));
  }
  const outboundPortsToIgnore: PortSpec[] = [];
  for (const item of listItems(raw.outboundPortsToIgnore)) {
    addUnique(outboundPortsToIgnore, parsePortSpec('--outbound-ports-to-ignore', item));
  }
  // Linkerd takes single ports here (an int list), not ranges.
  const portsToRedirect: number[] = [];
  for (const item of listItems(raw.portsToRedirect)) {
    if (/^[0-9]+\s*[-:]\s*[0-9]+$/.test(item)) {
      throw new InitOptionError('--ports-to-redirect', `takes single ports, not ranges (${JSON.stringify(item)})`);
    }
    const port = parsePort('--ports-to-redirect', item);
    if (!portsToRedirect.includes(port)) portsToRedirect.push(port);
  }
  const subnetsToIgnore: Subnet[] = [];
  for (const item of listItems(raw.subnetsToIgnore)) {
    const subnet = parseSubnet('--subnets-to-ignore', item);
    if (!subnetsToIgnore.some((s) => s.cidr === subnet.cidr)) subnetsToIgnore.push(subnet);
  }
  if (incomingProxyPort === outgoingProxyPort) {
    throw new InitOptionError('--outgoing-proxy-port', `must differ from --incoming-proxy-port (both are ${incomingProxyPort})`);
  }
  return {
    incomingProxyPort,
    outgoingProxyPort,
    proxyUid,
    proxyGid,
    inboundPortsToIgnore,
    outboundPortsToIgnore,
    portsToRedirect,
    subnetsToIgnore,
  };
}

// ── rules ───────────────────────────────────────────────────────────────────────────────────────

/** One rule appended to one of the two chains (or the jump into it). */
export interface NatRule {
  chain: string;
  /** Match and target arguments, without `-t nat -A <chain>`; includes the comment match. */
  spec: string[];
  /** The comment without its `proxy-init/` prefix. */
  name: string;
}

function comment(name: string): string[] {
  return ['-m', 'comment', '--comment', COMMENT_PREFIX + name];
}

function portText(spec: PortSpec, separator: string): string {
  return spec.from === spec.to ? String(spec.from) : `${spec.from}${separator}${spec.to}`;
}

/**
 * Splits a port list into groups that each fit one multiport match (≤ 15 slots, a range taking two).
 */
export function chunkPorts(ports: readonly PortSpec[], max: number = MULTIPORT_MAX): PortSpec[][] {
  const chunks: PortSpec[][] = [];
  let current: PortSpec[] = [];
  let used = 0;
  for (const port of ports) {
    const weight = port.from === port.to ? 1 : 2;
    if (used + weight > max) {
      chunks.push(current);
      current = [];
      used = 0;
    }
    current.push(port);
    used += weight;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

function ignorePortRules(chain: string, ports: readonly PortSpec[]): NatRule[] {
  return chunkPorts(ports).map((chunk) => {
    const name = `ignore-port-${chunk.map((p) => portText(p, '-')).join(',')}`;
    return {
      chain,
      name,
      spec: ['-p', 'tcp', '-m', 'multiport', '--dports', chunk.map((p) => portText(p, ':')).join(','), ...comment(name), '-j', 'RETURN'],
    };
  });
}

/** The rules of `PROXY_INIT_REDIRECT` (jumped from PREROUTING), in order. */
export function inboundRules(opts: InitOptions, family: IpFamily = 4): NatRule[] {
  const chain = REDIRECT_CHAIN;
  const rules = ignorePortRules(chain, opts.inboundPortsToIgnore);
  for (const subnet of opts.subnetsToIgnore) {
    if (subnet.family !== family) continue;
    const name = `ignore-subnet-${subnet.cidr}`;
    rules.push({ chain, name, spec: ['-s', subnet.cidr, ...comment(name), '-j', 'RETURN'] });
  }
  const to = String(opts.incomingProxyPort);
  if (opts.portsToRedirect.length === 0) {
    const name = 'redirect-all-incoming-to-proxy-port';
    rules.push({ chain, name, spec: ['-p', 'tcp', ...comment(name), '-j', 'REDIRECT', '--to-port', to] });
  } else {
    const ports = opts.portsToRedirect.map((p) => ({ from: p, to: p }));
    for (const chunk of chunkPorts(ports)) {
      const list = chunk.map((p) => portText(p, ':')).join(',');
      const name = `redirect-port-${list}-to-proxy-port`;
      rules.push({
        chain,
        name,
        spec: ['-p', 'tcp', '-m', 'multiport', '--dports', list, ...comment(name), '-j', 'REDIRECT', '--to-port', to],
      });
    }
  }
  return rules;
}

/** The rules of `PROXY_INIT_OUTPUT` (jumped from OUTPUT), in order. */
export function outboundRules(opts: InitOptions): NatRule[] {
  const chain = OUTPUT_CHAIN;
  const rules: NatRule[] = [
    {
      chain,
      name: 'ignore-proxy-user-id',
      spec: ['-m', 'owner', '--uid-owner', String(opts.proxyUid), ...comment('ignore-proxy-user-id'), '-j', 'RETURN'],
    },
  ];
  if (opts.proxyGid !== undefined) {
    rules.push({
      chain,
      name: 'ignore-proxy-group-id',
      spec: ['-m', 'owner', '--gid-owner', String(opts.proxyGid), ...comment('ignore-proxy-group-id'), '-j', 'RETURN'],
    });
  }
  rules.push({ chain, name: 'ignore-loopback', spec: ['-o', 'lo', ...comment('ignore-loopback'), '-j', 'RETURN'] });
  rules.push(...ignorePortRules(chain, opts.outboundPortsToIgnore));
  const name = 'redirect-all-outgoing-to-proxy-port';
  rules.push({
    chain,
    name,
    spec: ['-p', 'tcp', ...comment(name), '-j', 'REDIRECT', '--to-port', String(opts.outgoingProxyPort)],
  });
  return rules;
}

/** The jumps from the built-in chains into ours, appended after the chains are complete. */
export function jumpRules(): NatRule[] {
  return [
    { chain: 'PREROUTING', name: 'install-proxy-init-prerouting', spec: [...comment('install-proxy-init-prerouting'), '-j', REDIRECT_CHAIN] },
    { chain: 'OUTPUT', name: 'install-proxy-init-output', spec: [...comment('install-proxy-init-output'), '-j', OUTPUT_CHAIN] },
  ];
}

// ── reading the current table ───────────────────────────────────────────────────────────────────

/** What `iptables-save -t nat` says about the chains we manage. */
export interface NatState {
  /** User-defined chains declared in the table (`:NAME - [0:0]`). */
  chains: Set<string>;
  /** For PREROUTING and OUTPUT, the 1-based positions of rules that jump to one of our chains. */
  jumps: Map<string, number[]>;
}

/** Parses the `*nat` section of `iptables-save` output (other tables are ignored). */
export function parseNatSave(save: string): NatState {
  const chains = new Set<string>();
  const positions = new Map<string, number>();
  const jumps = new Map<string, number[]>();
  let inNat = false;
  for (const rawLine of save.split('\n')) {
    const line = rawLine.trim();
    if (line.startsWith('*')) {
      inNat = line === '*nat';
      continue;
    }
    if (!inNat) continue;
    if (line === 'COMMIT') {
      inNat = false;
      continue;
    }
    if (line.startsWith(':')) {
      chains.add(line.slice(1).split(/\s+/)[0] ?? '');
      continue;
    }
    const m = /^-A\s+(\S+)(.*)$/.exec(line);
    if (m === null) continue;
    const chain = m[1] ?? '';
    const position = (positions.get(chain) ?? 0) + 1;
    positions.set(chain, position);
    const target = /(?:^|\s)-j\s+(\S+)/.exec(m[2] ?? '')?.[1];
    if ((chain === 'PREROUTING' || chain === 'OUTPUT') && (target === REDIRECT_CHAIN || target === OUTPUT_CHAIN)) {
      const list = jumps.get(chain) ?? [];
      list.push(position);
      jumps.set(chain, list);
    }
  }
  return { chains, jumps };
}

// ── commands ────────────────────────────────────────────────────────────────────────────────────

/**
 * The iptables argument lists (without the binary) that install the rules for one address family,
 * given the current `iptables-save -t nat` text (empty: a fresh table). Order:
 *   1. delete every existing jump into our chains (highest position first, so numbers stay valid);
 *   2. create each chain, or flush it when it already exists;
 *   3. append the chain rules;
 *   4. append one jump from PREROUTING and one from OUTPUT.
 */
export function natCommands(opts: InitOptions, family: IpFamily = 4, currentSave = ''): string[][] {
  const state = parseNatSave(currentSave);
  const commands: string[][] = [];
  for (const [chain, positions] of state.jumps) {
    for (const position of [...positions].sort((a, b) => b - a)) {
      commands.push(['-t', 'nat', '-D', chain, String(position)]);
    }
  }
  for (const chain of [REDIRECT_CHAIN, OUTPUT_CHAIN]) {
    commands.push(['-t', 'nat', state.chains.has(chain) ? '-F' : '-N', chain]);
  }
  for (const rule of [...inboundRules(opts, family), ...outboundRules(opts), ...jumpRules()]) {
    commands.push(['-t', 'nat', '-A', rule.chain, ...rule.spec]);
  }
  return commands;
}

/** Quotes one argument for display in a shell-like command line. */
export function shellQuote(arg: string): string {
  if (arg !== '' && /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg)) return arg;
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

export function formatCommand(bin: string, args: readonly string[]): string {
  return [bin, ...args].map(shellQuote).join(' ');
}

/**
 * The companion binaries of a firewall binary: `iptables` → `ip6tables`, `iptables-legacy` →
 * `ip6tables-legacy`, `/usr/sbin/iptables-nft-save` → `/usr/sbin/ip6tables-nft-save`.
 */
export function ip6Variant(bin: string): string {
  const slash = bin.lastIndexOf('/');
  const dir = bin.slice(0, slash + 1);
  const base = bin.slice(slash + 1);
  if (base.startsWith('ip6tables')) return bin;
  if (base.startsWith('iptables')) return `${dir}ip6${base.slice(2)}`;
  return bin;
}
