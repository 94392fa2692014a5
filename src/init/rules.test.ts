import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  chunkPorts,
  formatCommand,
  InitOptionError,
  inboundRules,
  ip6Variant,
  natCommands,
  outboundRules,
  parseInitOptions,
  parseNatSave,
  type PortSpec,
} from './rules.ts';

const line = (args: string[]): string => formatCommand('iptables', args);
const lines = (commands: string[][]): string[] => commands.map(line);

function multiportLists(commands: string[][], chain: string): string[] {
  return commands
    .filter((c) => c[2] === '-A' && c[3] === chain && c.includes('--dports'))
    .map((c) => c[c.indexOf('--dports') + 1] ?? '');
}

function expectFlagError(fn: () => unknown, flag: string, fragment?: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof InitOptionError, `expected InitOptionError, got ${String(error)}`);
    assert.equal(error.flag, flag);
    assert.ok(error.message.startsWith(`${flag}: `), error.message);
    if (fragment !== undefined) assert.match(error.message, fragment);
    return true;
  });
}

describe('sluice-init rules', () => {
  it('writes Linkerd proxy-init default rules into a fresh nat table', () => {
    const opts = parseInitOptions();
    assert.deepEqual(lines(natCommands(opts)), [
      'iptables -t nat -N PROXY_INIT_REDIRECT',
      'iptables -t nat -N PROXY_INIT_OUTPUT',
      'iptables -t nat -A PROXY_INIT_REDIRECT -p tcp -m multiport --dports 4190,4191 -m comment --comment proxy-init/ignore-port-4190,4191 -j RETURN',
      'iptables -t nat -A PROXY_INIT_REDIRECT -p tcp -m comment --comment proxy-init/redirect-all-incoming-to-proxy-port -j REDIRECT --to-port 4143',
      'iptables -t nat -A PROXY_INIT_OUTPUT -m owner --uid-owner 2102 -m comment --comment proxy-init/ignore-proxy-user-id -j RETURN',
      'iptables -t nat -A PROXY_INIT_OUTPUT -o lo -m comment --comment proxy-init/ignore-loopback -j RETURN',
      'iptables -t nat -A PROXY_INIT_OUTPUT -p tcp -m comment --comment proxy-init/redirect-all-outgoing-to-proxy-port -j REDIRECT --to-port 4140',
      'iptables -t nat -A PREROUTING -m comment --comment proxy-init/install-proxy-init-prerouting -j PROXY_INIT_REDIRECT',
      'iptables -t nat -A OUTPUT -m comment --comment proxy-init/install-proxy-init-output -j PROXY_INIT_OUTPUT',
    ]);
  });

  it('gives every appended rule a proxy-init/<name> comment', () => {
    const opts = parseInitOptions({
      proxyGid: '2102',
      inboundPortsToIgnore: ['25,587', '8000-8100'],
      outboundPortsToIgnore: '443,6443',
      subnetsToIgnore: '10.0.0.0/8',
      portsToRedirect: '80,8080',
    });
    const appended = natCommands(opts).filter((c) => c[2] === '-A');
    assert.ok(appended.length >= 10);
    for (const command of appended) {
      const i = command.indexOf('--comment');
      assert.ok(i > 0, `no comment on ${line(command)}`);
      assert.match(command[i + 1] ?? '', /^proxy-init\/[a-z0-9.,:/-]+$/);
      assert.ok((command[i + 1] ?? '').length <= 256, 'iptables comments are limited to 256 characters');
    }
  });

  it('honours other proxy ports and uid', () => {
    const opts = parseInitOptions({ incomingProxyPort: '5143', outgoingProxyPort: 5140, proxyUid: '0' });
    const text = lines(natCommands(opts)).join('\n');
    assert.match(text, /--uid-owner 0 .* -j RETURN/);
    assert.match(text, /PROXY_INIT_REDIRECT -p tcp .* -j REDIRECT --to-port 5143$/m);
    assert.match(text, /PROXY_INIT_OUTPUT -p tcp .* -j REDIRECT --to-port 5140$/m);
    assert.doesNotMatch(text, /--gid-owner/);
  });

  it('adds a gid-owner RETURN after the uid-owner one when a proxy gid is given', () => {
    const rules = outboundRules(parseInitOptions({ proxyGid: '3000' }));
    assert.deepEqual(
      rules.map((r) => r.name),
      ['ignore-proxy-user-id', 'ignore-proxy-group-id', 'ignore-loopback', 'redirect-all-outgoing-to-proxy-port'],
    );
    assert.deepEqual(rules[1]?.spec.slice(0, 3), ['-m', 'owner', '--gid-owner']);
    assert.equal(rules[1]?.spec[3], '3000');
  });

  it('always ignores 4190 and 4191 inbound, once, and keeps the given order', () => {
    const opts = parseInitOptions({ inboundPortsToIgnore: ['4191,25', '4190', '25'] });
    assert.deepEqual(opts.inboundPortsToIgnore, [
      { from: 4190, to: 4190 },
      { from: 4191, to: 4191 },
      { from: 25, to: 25 },
    ]);
    assert.deepEqual(multiportLists(natCommands(opts), 'PROXY_INIT_REDIRECT'), ['4190,4191,25']);
  });

  it('splits ignored ports into multiport rules of at most 15 ports, a range counting as two', () => {
    const ports = Array.from({ length: 30 }, (_, i) => String(10000 + i));
    const opts = parseInitOptions({ inboundPortsToIgnore: ports.join(','), outboundPortsToIgnore: [...ports, '20000-20010'] });
    const inbound = multiportLists(natCommands(opts), 'PROXY_INIT_REDIRECT');
    // 2 always-ignored + 30 = 32 ports → 15 + 15 + 2
    assert.deepEqual(
      inbound.map((l) => l.split(',').length),
      [15, 15, 2],
    );
    assert.equal(inbound[0], ['4190', '4191', ...ports.slice(0, 13)].join(','));
    const outbound = multiportLists(natCommands(opts), 'PROXY_INIT_OUTPUT');
    // 30 singles → 15 + 15, then the range alone (it would not fit after 15)
    assert.deepEqual(outbound, [ports.slice(0, 15).join(','), ports.slice(15).join(','), '20000:20010']);
    const names = inboundRules(opts).map((r) => r.name);
    assert.equal(names[1], `ignore-port-${ports.slice(13, 28).join(',')}`);
    assert.equal(names[2], 'ignore-port-10028,10029');
  });

  it('chunks never exceed 15 multiport slots and keep every port in order (property)', () => {
    const spec = fc
      .tuple(fc.integer({ min: 1, max: 65535 }), fc.integer({ min: 0, max: 3 }))
      .map(([from, extra]): PortSpec => ({ from, to: Math.min(65535, from + extra) }));
    fc.assert(
      fc.property(fc.array(spec, { maxLength: 60 }), (ports) => {
        const chunks = chunkPorts(ports);
        assert.deepEqual(chunks.flat(), ports);
        for (const chunk of chunks) {
          assert.ok(chunk.length > 0);
          const slots = chunk.reduce((n, p) => n + (p.from === p.to ? 1 : 2), 0);
          assert.ok(slots <= 15, `chunk of ${slots} slots`);
        }
      }),
    );
  });

  it('accepts port ranges where Linkerd does (ignored ports), written as a:b for multiport', () => {
    const opts = parseInitOptions({ inboundPortsToIgnore: '8000-8100', outboundPortsToIgnore: '9000:9005,1-1' });
    assert.deepEqual(multiportLists(natCommands(opts), 'PROXY_INIT_REDIRECT'), ['4190,4191,8000:8100']);
    assert.deepEqual(multiportLists(natCommands(opts), 'PROXY_INIT_OUTPUT'), ['9000:9005,1']);
    assert.equal(inboundRules(opts)[0]?.name, 'ignore-port-4190,4191,8000-8100');
  });

  it('orders the outbound chain uid, gid, loopback, ignored ports, redirect', () => {
    const opts = parseInitOptions({ proxyGid: '7', outboundPortsToIgnore: '443' });
    assert.deepEqual(
      outboundRules(opts).map((r) => r.name),
      ['ignore-proxy-user-id', 'ignore-proxy-group-id', 'ignore-loopback', 'ignore-port-443', 'redirect-all-outgoing-to-proxy-port'],
    );
  });

  it('returns ignored source subnets before redirecting, per address family', () => {
    const opts = parseInitOptions({ subnetsToIgnore: ['10.0.0.0/8, 192.168.1.7', 'fd00::/8'] });
    const v4 = inboundRules(opts, 4);
    assert.deepEqual(
      v4.map((r) => r.name),
      ['ignore-port-4190,4191', 'ignore-subnet-10.0.0.0/8', 'ignore-subnet-192.168.1.7/32', 'redirect-all-incoming-to-proxy-port'],
    );
    assert.deepEqual(v4[1]?.spec.slice(0, 2), ['-s', '10.0.0.0/8']);
    const v6 = inboundRules(opts, 6);
    assert.deepEqual(
      v6.map((r) => r.name),
      ['ignore-port-4190,4191', 'ignore-subnet-fd00::/8', 'redirect-all-incoming-to-proxy-port'],
    );
  });

  it('redirects only the listed ports in redirect-listed mode', () => {
    const ports = Array.from({ length: 17 }, (_, i) => String(8000 + i));
    const opts = parseInitOptions({ portsToRedirect: ['80', ...ports, '80'] });
    const rules = inboundRules(opts);
    const redirects = rules.filter((r) => r.spec.includes('REDIRECT'));
    assert.equal(redirects.length, 2);
    assert.ok(!rules.some((r) => r.name === 'redirect-all-incoming-to-proxy-port'));
    assert.deepEqual(redirects[0]?.spec, [
      '-p', 'tcp', '-m', 'multiport', '--dports', ['80', ...ports.slice(0, 14)].join(','),
      '-m', 'comment', '--comment', `proxy-init/redirect-port-${['80', ...ports.slice(0, 14)].join(',')}-to-proxy-port`,
      '-j', 'REDIRECT', '--to-port', '4143',
    ]);
    assert.equal(redirects[1]?.spec[5], ports.slice(14).join(','));
    // The ignore rules still come first, and outbound stays redirect-all.
    assert.equal(rules[0]?.name, 'ignore-port-4190,4191');
    assert.equal(outboundRules(opts).at(-1)?.name, 'redirect-all-outgoing-to-proxy-port');
  });

  it('rejects bad input with errors naming the flag', () => {
    expectFlagError(() => parseInitOptions({ incomingProxyPort: '0' }), '--incoming-proxy-port', /out of range/);
    expectFlagError(() => parseInitOptions({ outgoingProxyPort: '65536' }), '--outgoing-proxy-port', /1–65535/);
    expectFlagError(() => parseInitOptions({ outgoingProxyPort: '4143' }), '--outgoing-proxy-port', /must differ/);
    expectFlagError(() => parseInitOptions({ proxyUid: '-1' }), '--proxy-uid');
    expectFlagError(() => parseInitOptions({ proxyUid: '21o2' }), '--proxy-uid', /not a valid uid/);
    expectFlagError(() => parseInitOptions({ proxyGid: '4294967295' }), '--proxy-gid');
    expectFlagError(() => parseInitOptions({ inboundPortsToIgnore: '80,http' }), '--inbound-ports-to-ignore', /"http"/);
    expectFlagError(() => parseInitOptions({ inboundPortsToIgnore: '0' }), '--inbound-ports-to-ignore');
    expectFlagError(() => parseInitOptions({ inboundPortsToIgnore: '9000-8000' }), '--inbound-ports-to-ignore', /reversed/);
    expectFlagError(() => parseInitOptions({ outboundPortsToIgnore: '1-70000' }), '--outbound-ports-to-ignore', /70000/);
    expectFlagError(() => parseInitOptions({ outboundPortsToIgnore: '1-2-3' }), '--outbound-ports-to-ignore');
    expectFlagError(() => parseInitOptions({ portsToRedirect: '8000-8100' }), '--ports-to-redirect', /not ranges/);
    expectFlagError(() => parseInitOptions({ portsToRedirect: '99999' }), '--ports-to-redirect');
    expectFlagError(() => parseInitOptions({ subnetsToIgnore: '10.0.0.0/33' }), '--subnets-to-ignore', /0–32/);
    expectFlagError(() => parseInitOptions({ subnetsToIgnore: '10.0.0/8' }), '--subnets-to-ignore', /not a valid CIDR/);
    expectFlagError(() => parseInitOptions({ subnetsToIgnore: 'fd00::/129' }), '--subnets-to-ignore', /0–128/);
    expectFlagError(() => parseInitOptions({ subnetsToIgnore: '10.0.0.0/x' }), '--subnets-to-ignore');
  });

  it('is idempotent against an existing table: flushes the chains and replaces every old jump', () => {
    const save = [
      '# Generated by iptables-save v1.8.9 (nf_tables)',
      '*filter',
      ':INPUT ACCEPT [0:0]',
      '-A INPUT -j PROXY_INIT_REDIRECT',
      'COMMIT',
      '*nat',
      ':PREROUTING ACCEPT [0:0]',
      ':INPUT ACCEPT [0:0]',
      ':OUTPUT ACCEPT [0:0]',
      ':POSTROUTING ACCEPT [0:0]',
      ':PROXY_INIT_OUTPUT - [0:0]',
      ':PROXY_INIT_REDIRECT - [0:0]',
      ':OTHER - [0:0]',
      '-A PREROUTING -j OTHER',
      '-A PREROUTING -m comment --comment "proxy-init/install-proxy-init-prerouting" -j PROXY_INIT_REDIRECT',
      '-A PREROUTING -j PROXY_INIT_REDIRECT',
      '-A OUTPUT -m comment --comment "proxy-init/install-proxy-init-output" -j PROXY_INIT_OUTPUT',
      '-A OTHER -j PROXY_INIT_REDIRECT',
      '-A PROXY_INIT_OUTPUT -p tcp -j REDIRECT --to-ports 4140',
      'COMMIT',
    ].join('\n');
    const state = parseNatSave(save);
    assert.deepEqual([...state.chains].sort(), ['INPUT', 'OTHER', 'OUTPUT', 'POSTROUTING', 'PREROUTING', 'PROXY_INIT_OUTPUT', 'PROXY_INIT_REDIRECT']);
    assert.deepEqual(Object.fromEntries(state.jumps), { PREROUTING: [2, 3], OUTPUT: [1] });

    const commands = lines(natCommands(parseInitOptions(), 4, save));
    assert.deepEqual(commands.slice(0, 5), [
      'iptables -t nat -D PREROUTING 3',
      'iptables -t nat -D PREROUTING 2',
      'iptables -t nat -D OUTPUT 1',
      'iptables -t nat -F PROXY_INIT_REDIRECT',
      'iptables -t nat -F PROXY_INIT_OUTPUT',
    ]);
    assert.equal(commands.filter((c) => c.includes(' -N ')).length, 0);
    // Exactly one jump from each built-in chain is appended, last.
    assert.deepEqual(
      commands.filter((c) => / -A (PREROUTING|OUTPUT) /.test(c)),
      commands.slice(-2),
    );
    assert.equal(commands.slice(-2).length, 2);
    // The same options give the same rules whatever the starting state.
    const appended = (cmds: string[]): string[] => cmds.filter((c) => c.includes(' -A '));
    assert.deepEqual(appended(commands), appended(lines(natCommands(parseInitOptions()))));
  });

  it('treats an empty or nat-less save as a fresh table', () => {
    for (const save of ['', '*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n']) {
      const commands = lines(natCommands(parseInitOptions(), 4, save));
      assert.equal(commands[0], 'iptables -t nat -N PROXY_INIT_REDIRECT');
      assert.equal(commands[1], 'iptables -t nat -N PROXY_INIT_OUTPUT');
    }
  });

  it('derives the ip6tables companions of each iptables variant', () => {
    assert.equal(ip6Variant('iptables'), 'ip6tables');
    assert.equal(ip6Variant('iptables-save'), 'ip6tables-save');
    assert.equal(ip6Variant('iptables-legacy'), 'ip6tables-legacy');
    assert.equal(ip6Variant('iptables-legacy-save'), 'ip6tables-legacy-save');
    assert.equal(ip6Variant('/usr/sbin/iptables-nft'), '/usr/sbin/ip6tables-nft');
    assert.equal(ip6Variant('ip6tables'), 'ip6tables');
  });

  it('quotes displayed commands like a shell would need', () => {
    assert.equal(formatCommand('iptables', ['-m', 'comment', '--comment', 'a b']), "iptables -m comment --comment 'a b'");
    assert.equal(formatCommand('x', ["it's", '']), "x 'it'\\''s' ''");
  });
});
