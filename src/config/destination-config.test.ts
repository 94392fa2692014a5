// The control-plane variables: defaults, accepted forms, and refusals naming the variable.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDestinationConfig } from './destination-config.ts';
import { inNetworks, parseNetworks } from './networks.ts';
import { ConfigError } from './parse.ts';

function rejected(env: Record<string, string>, variable: string): void {
  assert.throws(
    () => parseDestinationConfig(env),
    (error: unknown) => error instanceof ConfigError && error.variable === variable,
  );
}

describe('parseDestinationConfig', () => {
  it('has no control plane by default, and Linkerd’s defaults for the rest', () => {
    const c = parseDestinationConfig({});
    assert.equal(c.destinationAddr, undefined);
    assert.equal(c.destinationContext, '');
    assert.deepEqual(c.destinationProfileSuffixes, ['svc.cluster.local.']);
    assert.equal(inNetworks('10.96.0.1', c.destinationProfileNetworks), true);
    assert.equal(inNetworks('127.0.0.1', c.destinationProfileNetworks), false);
    assert.equal(c.outboundDiscoveryIdleTimeoutMs, 5_000);
    assert.equal(c.controlStreamInitialTimeoutMs, 3_000);
    assert.deepEqual(c.controlBackoff, { minMs: 100, maxMs: 10_000, jitter: 0.1 });
    assert.deepEqual(c.failureAccrual, { maxFailures: 7, minMs: 1_000, maxMs: 60_000, jitter: 0.5 });
  });

  it('reads the Destination service address, a name or an IP', () => {
    assert.deepEqual(parseDestinationConfig({ SLUICE_PROXY_DESTINATION_SVC_ADDR: 'sluice-dst.sluice.svc.cluster.local.:8086' }).destinationAddr, {
      host: 'sluice-dst.sluice.svc.cluster.local.',
      port: 8086,
    });
    rejected({ SLUICE_PROXY_DESTINATION_SVC_ADDR: 'no-port' }, 'SLUICE_PROXY_DESTINATION_SVC_ADDR');
  });

  it('takes a JSON object or ns:<namespace> as the context token, verbatim', () => {
    const json = '{"ns":"default","nodeName":"n1","pod":"web-0"}';
    assert.equal(parseDestinationConfig({ SLUICE_PROXY_DESTINATION_CONTEXT: json }).destinationContext, json);
    assert.equal(parseDestinationConfig({ SLUICE_PROXY_DESTINATION_CONTEXT: 'ns:emojivoto' }).destinationContext, 'ns:emojivoto');
    rejected({ SLUICE_PROXY_DESTINATION_CONTEXT: 'default' }, 'SLUICE_PROXY_DESTINATION_CONTEXT');
    rejected({ SLUICE_PROXY_DESTINATION_CONTEXT: '[1]' }, 'SLUICE_PROXY_DESTINATION_CONTEXT');
  });

  it('normalizes suffixes (lower case, trailing dot, no leading dot); empty means none; `.` means all', () => {
    assert.deepEqual(parseDestinationConfig({ SLUICE_PROXY_DESTINATION_PROFILE_SUFFIXES: '.SVC.Cluster.Local, example.com.' }).destinationProfileSuffixes, [
      'svc.cluster.local.',
      'example.com.',
    ]);
    assert.deepEqual(parseDestinationConfig({ SLUICE_PROXY_DESTINATION_PROFILE_SUFFIXES: '' }).destinationProfileSuffixes, []);
    assert.deepEqual(parseDestinationConfig({ SLUICE_PROXY_DESTINATION_PROFILE_SUFFIXES: '.' }).destinationProfileSuffixes, ['.']);
    rejected({ SLUICE_PROXY_DESTINATION_PROFILE_SUFFIXES: 'bad..name' }, 'SLUICE_PROXY_DESTINATION_PROFILE_SUFFIXES');
  });

  it('refuses a zero idle or initial timeout, a backoff or penalty whose max is below its min, and bad numbers', () => {
    rejected({ SLUICE_PROXY_OUTBOUND_DISCOVERY_IDLE_TIMEOUT: '0' }, 'SLUICE_PROXY_OUTBOUND_DISCOVERY_IDLE_TIMEOUT');
    rejected({ SLUICE_PROXY_CONTROL_STREAM_INITIAL_TIMEOUT: '0s' }, 'SLUICE_PROXY_CONTROL_STREAM_INITIAL_TIMEOUT');
    rejected({ SLUICE_PROXY_CONTROL_EXP_BACKOFF_MIN: '5s', SLUICE_PROXY_CONTROL_EXP_BACKOFF_MAX: '1s' }, 'SLUICE_PROXY_CONTROL_EXP_BACKOFF_MAX');
    rejected({ SLUICE_PROXY_CONTROL_EXP_BACKOFF_JITTER: '-1' }, 'SLUICE_PROXY_CONTROL_EXP_BACKOFF_JITTER');
    rejected(
      { SLUICE_PROXY_OUTBOUND_FAILURE_ACCRUAL_CONSECUTIVE_MIN_PENALTY: '2m', SLUICE_PROXY_OUTBOUND_FAILURE_ACCRUAL_CONSECUTIVE_MAX_PENALTY: '1m' },
      'SLUICE_PROXY_OUTBOUND_FAILURE_ACCRUAL_CONSECUTIVE_MAX_PENALTY',
    );
    rejected({ SLUICE_PROXY_OUTBOUND_FAILURE_ACCRUAL_CONSECUTIVE_MAX_FAILURES: 'seven' }, 'SLUICE_PROXY_OUTBOUND_FAILURE_ACCRUAL_CONSECUTIVE_MAX_FAILURES');
    assert.equal(parseDestinationConfig({ SLUICE_PROXY_OUTBOUND_FAILURE_ACCRUAL_CONSECUTIVE_MAX_FAILURES: '0' }).failureAccrual.maxFailures, 0);
  });
});

describe('parseNetworks', () => {
  it('reads IPv4 and IPv6 CIDRs and bare addresses, ignoring host bits', () => {
    const networks = parseNetworks('N', '10.1.2.3/8, fd00::/8,192.168.1.7');
    assert.equal(inNetworks('10.200.0.1', networks), true);
    assert.equal(inNetworks('fdff::1', networks), true);
    assert.equal(inNetworks('fe00::1', networks), false);
    assert.equal(inNetworks('192.168.1.7', networks), true);
    assert.equal(inNetworks('192.168.1.8', networks), false);
    assert.equal(inNetworks('not-an-ip', networks), false);
    assert.deepEqual(parseNetworks('N', ''), []);
  });

  it('refuses what is not a network, naming the entry', () => {
    for (const bad of ['300.0.0.0/8', '10.0.0.0/33', 'fd00::/129', '10.0.0.0/x', 'web']) {
      assert.throws(() => parseNetworks('N', bad), (error: unknown) => error instanceof ConfigError && error.message.includes(bad));
    }
  });
});
