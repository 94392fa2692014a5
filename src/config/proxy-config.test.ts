// parseProxyConfig: the defaults of every SLUICE_PROXY_* variable, what each accepts, and that a bad
// value stops the proxy with a ConfigError naming the variable.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { ConfigError, DEFAULT_OPAQUE_PORTS, LOG_LEVELS, parseProxyConfig, type ProxyConfig } from './proxy-config.ts';
import { parseNetworks } from './networks.ts';
import { coresGiven, workersForCores } from './cpu.ts';

const config = (env: Record<string, string | undefined>): ProxyConfig => parseProxyConfig(env);

/** Asserts that `env` is refused with a ConfigError for `variable` whose message names it. */
function assertRejected(env: Record<string, string>, variable: string, expected?: RegExp): void {
  assert.throws(
    () => parseProxyConfig(env),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
      assert.equal(error.variable, variable);
      assert.ok(error.message.startsWith(`${variable}=`), error.message);
      if (expected !== undefined) assert.match(error.message, expected);
      return true;
    },
  );
}

describe('parseProxyConfig defaults (an empty environment)', () => {
  const defaults = config({});

  it('listens for inbound traffic on 0.0.0.0:4143', () => {
    assert.deepEqual(defaults.inboundListen, { host: '0.0.0.0', port: 4143 });
  });

  it('listens for outbound traffic on 127.0.0.1:4140', () => {
    assert.deepEqual(defaults.outboundListen, { host: '127.0.0.1', port: 4140 });
  });

  it('serves the admin endpoints on 127.0.0.1:4191', () => {
    assert.deepEqual(defaults.adminListen, { host: '127.0.0.1', port: 4191 });
  });

  it('runs one worker thread per CPU the process is given (none under one core)', () => {
    assert.equal(defaults.workers, workersForCores(coresGiven()));
  });

  it('logs at info level in plain format', () => {
    assert.equal(defaults.logLevel, 'info');
    assert.equal(defaults.logFormat, 'plain');
  });

  it('waits 10 s for a client to send the bytes protocol detection needs', () => {
    assert.equal(defaults.detectTimeoutMs, 10_000);
  });

  it('gives inbound connects 100 ms (the app is in the same pod) and outbound connects 1 s', () => {
    assert.equal(defaults.inboundConnectTimeoutMs, 100);
    assert.equal(defaults.outboundConnectTimeoutMs, 1000);
  });

  it("treats Linkerd's default opaque ports 25,587,3306,4444,5432,6379,9300,11211 as opaque", () => {
    assert.equal(DEFAULT_OPAQUE_PORTS, '25,587,3306,4444,5432,6379,9300,11211');
    assert.deepEqual(defaults.opaquePorts, new Set([25, 587, 3306, 4444, 5432, 6379, 9300, 11211]));
  });

  it('drains for up to 120 s on shutdown, with the /shutdown endpoint disabled', () => {
    assert.equal(defaults.shutdownGracePeriodMs, 120_000);
    assert.equal(defaults.shutdownEndpointEnabled, false);
  });

  it('has no forward addresses (every connection is expected to carry an original destination)', () => {
    assert.equal(defaults.inboundForwardAddr, undefined);
    assert.equal(defaults.outboundForwardAddr, undefined);
  });

  it('allows 10 s for a request head, 10 s for a response head, and keeps idle upstream HTTP/1 connections 3 s', () => {
    assert.equal(defaults.httpHeaderTimeoutMs, 10_000);
    assert.equal(defaults.httpResponseTimeoutMs, 10_000);
    assert.equal(defaults.httpPoolIdleTimeoutMs, 3_000);
  });

  it('is exactly this, field for field', () => {
    assert.deepEqual(defaults, {
      inboundListen: { host: '0.0.0.0', port: 4143 },
      outboundListen: { host: '127.0.0.1', port: 4140 },
      adminListen: { host: '127.0.0.1', port: 4191 },
      workers: workersForCores(coresGiven()),
      logLevel: 'info',
      logFormat: 'plain',
      inboundConnectTimeoutMs: 100,
      outboundConnectTimeoutMs: 1000,
      detectTimeoutMs: 10_000,
      opaquePorts: new Set([25, 587, 3306, 4444, 5432, 6379, 9300, 11211]),
      shutdownGracePeriodMs: 120_000,
      shutdownEndpointEnabled: false,
      inboundForwardAddr: undefined,
      outboundForwardAddr: undefined,
      httpHeaderTimeoutMs: 10_000,
      httpResponseTimeoutMs: 10_000,
      httpPoolIdleTimeoutMs: 3_000,
      memoryTrimIntervalMs: 5_000,
      http1Engine: 'fast',
      destinationAddr: undefined,
      destinationContext: '',
      destinationProfileSuffixes: ['svc.cluster.local.'],
      destinationProfileNetworks: parseNetworks('x', '10.0.0.0/8,100.64.0.0/10,172.16.0.0/12,192.168.0.0/16,fd00::/8'),
      outboundDiscoveryIdleTimeoutMs: 5_000,
      controlStreamInitialTimeoutMs: 3_000,
      controlBackoff: { minMs: 100, maxMs: 10_000, jitter: 0.1 },
      failureAccrual: { maxFailures: 7, minMs: 1_000, maxMs: 60_000, jitter: 0.5 },
      telemetry: { svcAddr: undefined, reportIntervalMs: 5_000, podName: os.hostname(), podNamespace: 'default', workload: '', localIdentity: '' },
      tapListen: { host: '0.0.0.0', port: 4190 },
      tapSvcName: undefined,
      identity: undefined,
      inboundPolicy: {
        defaultPolicy: 'all-unauthenticated',
        requireIdentityPorts: new Set(),
        clusterNetworks: parseNetworks('x', '10.0.0.0/8,100.64.0.0/10,172.16.0.0/12,192.168.0.0/16,fd00::/8'),
        svcAddr: undefined,
        workload: JSON.stringify({ ns: 'default', pod: os.hostname() }),
        maxWatchedPorts: 64,
      },
    });
  });

  it('treats a variable set to an empty or blank value as unset', () => {
    const blank = config({
      SLUICE_PROXY_INBOUND_LISTEN_ADDR: '',
      SLUICE_PROXY_WORKERS: '   ',
      SLUICE_PROXY_LOG: '',
      SLUICE_PROXY_DETECT_TIMEOUT: ' ',
      SLUICE_PROXY_INBOUND_FORWARD_ADDR: '',
    });
    assert.deepEqual(blank, defaults);
  });

  it('reads only the environment it is given, never process.env', () => {
    const saved = process.env['SLUICE_PROXY_WORKERS'];
    process.env['SLUICE_PROXY_WORKERS'] = 'abc';
    try {
      assert.equal(config({}).workers, workersForCores(coresGiven()));
    } finally {
      if (saved === undefined) delete process.env['SLUICE_PROXY_WORKERS'];
      else process.env['SLUICE_PROXY_WORKERS'] = saved;
    }
  });
});

describe('listen and forward addresses', () => {
  it('accepts host:port and [v6]:port for every listener', () => {
    const c = config({
      SLUICE_PROXY_INBOUND_LISTEN_ADDR: '[::]:4143',
      SLUICE_PROXY_OUTBOUND_LISTEN_ADDR: '[::1]:4140',
      SLUICE_PROXY_ADMIN_LISTEN_ADDR: '0.0.0.0:9990',
    });
    assert.deepEqual(c.inboundListen, { host: '::', port: 4143 });
    assert.deepEqual(c.outboundListen, { host: '::1', port: 4140 });
    assert.deepEqual(c.adminListen, { host: '0.0.0.0', port: 9990 });
  });

  it('trims spaces around a value', () => {
    assert.deepEqual(config({ SLUICE_PROXY_OUTBOUND_LISTEN_ADDR: ' 127.0.0.1:5140\n' }).outboundListen, {
      host: '127.0.0.1',
      port: 5140,
    });
  });

  it('accepts port 0 for listeners (pick any free port)', () => {
    assert.deepEqual(config({ SLUICE_PROXY_ADMIN_LISTEN_ADDR: '127.0.0.1:0' }).adminListen, { host: '127.0.0.1', port: 0 });
  });

  it('reads forward addresses, which may be names', () => {
    const c = config({
      SLUICE_PROXY_INBOUND_FORWARD_ADDR: '127.0.0.1:8080',
      SLUICE_PROXY_OUTBOUND_FORWARD_ADDR: 'backend.default.svc:9000',
    });
    assert.deepEqual(c.inboundForwardAddr, { host: '127.0.0.1', port: 8080 });
    assert.deepEqual(c.outboundForwardAddr, { host: 'backend.default.svc', port: 9000 });
  });

  for (const variable of [
    'SLUICE_PROXY_INBOUND_LISTEN_ADDR',
    'SLUICE_PROXY_OUTBOUND_LISTEN_ADDR',
    'SLUICE_PROXY_ADMIN_LISTEN_ADDR',
    'SLUICE_PROXY_INBOUND_FORWARD_ADDR',
    'SLUICE_PROXY_OUTBOUND_FORWARD_ADDR',
  ]) {
    it(`rejects ${variable}=nope and a port of 70000`, () => {
      assertRejected({ [variable]: 'nope' }, variable, /expected host:port/);
      assertRejected({ [variable]: '127.0.0.1:70000' }, variable, /port must be 0–65535/);
    });
  }
});

describe('SLUICE_PROXY_WORKERS', () => {
  it('takes a whole number of worker threads', () => {
    assert.equal(config({ SLUICE_PROXY_WORKERS: '4' }).workers, 4);
    assert.equal(config({ SLUICE_PROXY_WORKERS: '256' }).workers, 256);
  });

  it('takes 0 to serve every connection on the main thread', () => {
    assert.equal(config({ SLUICE_PROXY_WORKERS: '0' }).workers, 0);
  });

  for (const bad of ['abc', '-1', '1.5', '2x', '0x10']) {
    it(`rejects ${JSON.stringify(bad)}`, () => {
      assertRejected({ SLUICE_PROXY_WORKERS: bad }, 'SLUICE_PROXY_WORKERS', /whole number/);
    });
  }

  it('rejects more than 256 workers', () => {
    assertRejected({ SLUICE_PROXY_WORKERS: '257' }, 'SLUICE_PROXY_WORKERS', /at most 256/);
  });
});

describe('SLUICE_PROXY_LOG and SLUICE_PROXY_LOG_FORMAT', () => {
  it('takes each level: error, warn, info, debug, trace', () => {
    assert.deepEqual(LOG_LEVELS, ['error', 'warn', 'info', 'debug', 'trace']);
    for (const level of LOG_LEVELS) assert.equal(config({ SLUICE_PROXY_LOG: level }).logLevel, level);
  });

  it('ignores the case of the level', () => {
    assert.equal(config({ SLUICE_PROXY_LOG: 'DEBUG' }).logLevel, 'debug');
  });

  it('accepts a Linkerd-style filter such as warn,linkerd=info and uses its first bare level', () => {
    assert.equal(config({ SLUICE_PROXY_LOG: 'warn,linkerd=info' }).logLevel, 'warn');
    assert.equal(config({ SLUICE_PROXY_LOG: 'linkerd=debug,error' }).logLevel, 'error');
    assert.equal(config({ SLUICE_PROXY_LOG: 'warn,linkerd=info,hickory=error,[{headers}]=off' }).logLevel, 'warn');
  });

  it('falls back to info when a Linkerd-style filter has no bare level', () => {
    assert.equal(config({ SLUICE_PROXY_LOG: 'linkerd=debug' }).logLevel, 'info');
  });

  it('rejects an unknown level, naming SLUICE_PROXY_LOG', () => {
    assertRejected({ SLUICE_PROXY_LOG: 'verbose' }, 'SLUICE_PROXY_LOG', /expected one of error, warn, info, debug, trace/);
    assertRejected({ SLUICE_PROXY_LOG: 'off,linkerd=info' }, 'SLUICE_PROXY_LOG');
  });

  it('takes plain or json as the format, in any case (Linkerd writes PLAIN)', () => {
    assert.equal(config({ SLUICE_PROXY_LOG_FORMAT: 'json' }).logFormat, 'json');
    assert.equal(config({ SLUICE_PROXY_LOG_FORMAT: 'JSON' }).logFormat, 'json');
    assert.equal(config({ SLUICE_PROXY_LOG_FORMAT: 'PLAIN' }).logFormat, 'plain');
  });

  it('rejects another format', () => {
    assertRejected({ SLUICE_PROXY_LOG_FORMAT: 'xml' }, 'SLUICE_PROXY_LOG_FORMAT', /expected one of plain, json/);
  });
});

describe('durations', () => {
  const DURATIONS: Array<[string, keyof ProxyConfig]> = [
    ['SLUICE_PROXY_INBOUND_CONNECT_TIMEOUT', 'inboundConnectTimeoutMs'],
    ['SLUICE_PROXY_OUTBOUND_CONNECT_TIMEOUT', 'outboundConnectTimeoutMs'],
    ['SLUICE_PROXY_DETECT_TIMEOUT', 'detectTimeoutMs'],
    ['SLUICE_PROXY_SHUTDOWN_GRACE_PERIOD', 'shutdownGracePeriodMs'],
    ['SLUICE_PROXY_HTTP_HEADER_TIMEOUT', 'httpHeaderTimeoutMs'],
    ['SLUICE_PROXY_HTTP_RESPONSE_TIMEOUT', 'httpResponseTimeoutMs'],
    ['SLUICE_PROXY_HTTP_POOL_IDLE_TIMEOUT', 'httpPoolIdleTimeoutMs'],
    ['SLUICE_PROXY_MEMORY_TRIM_INTERVAL', 'memoryTrimIntervalMs'],
  ];

  for (const [variable, field] of DURATIONS) {
    it(`${variable} takes 100ms, 10s, 2m, 1h, 365d and a bare number of milliseconds`, () => {
      assert.equal(config({ [variable]: '100ms' })[field], 100);
      assert.equal(config({ [variable]: '10s' })[field], 10_000);
      assert.equal(config({ [variable]: '2m' })[field], 120_000);
      assert.equal(config({ [variable]: '1h' })[field], 3_600_000);
      assert.equal(config({ [variable]: '365d' })[field], 2 ** 31 - 1);
      assert.equal(config({ [variable]: '750' })[field], 750);
    });

    it(`${variable} rejects 10x, naming the variable`, () => {
      assertRejected({ [variable]: '10x' }, variable, /expected a duration/);
    });
  }

  it('rejects a connect or detect timeout of 0, which would fail every connection at once', () => {
    for (const variable of [
      'SLUICE_PROXY_INBOUND_CONNECT_TIMEOUT',
      'SLUICE_PROXY_OUTBOUND_CONNECT_TIMEOUT',
      'SLUICE_PROXY_DETECT_TIMEOUT',
    ]) {
      assertRejected({ [variable]: '0' }, variable, /must be more than 0/);
      assertRejected({ [variable]: '0s' }, variable, /must be more than 0/);
    }
  });

  it('accepts 0 for the header and response timeouts (disabled), the grace period, the pool idle timeout and the memory trim', () => {
    const c = config({
      SLUICE_PROXY_HTTP_HEADER_TIMEOUT: '0',
      SLUICE_PROXY_HTTP_RESPONSE_TIMEOUT: '0s',
      SLUICE_PROXY_SHUTDOWN_GRACE_PERIOD: '0',
      SLUICE_PROXY_HTTP_POOL_IDLE_TIMEOUT: '0ms',
      SLUICE_PROXY_MEMORY_TRIM_INTERVAL: '0',
    });
    assert.equal(c.httpHeaderTimeoutMs, 0);
    assert.equal(c.httpResponseTimeoutMs, 0);
    assert.equal(c.shutdownGracePeriodMs, 0);
    assert.equal(c.httpPoolIdleTimeoutMs, 0);
    assert.equal(c.memoryTrimIntervalMs, 0);
  });
});

describe('SLUICE_PROXY_INBOUND_PORTS_DISABLE_PROTOCOL_DETECTION', () => {
  const VAR = 'SLUICE_PROXY_INBOUND_PORTS_DISABLE_PROTOCOL_DETECTION';

  it('replaces the default list', () => {
    assert.deepEqual(config({ [VAR]: '5432' }).opaquePorts, new Set([5432]));
  });

  it('takes ranges', () => {
    assert.deepEqual(config({ [VAR]: '25,8000-8002' }).opaquePorts, new Set([25, 8000, 8001, 8002]));
  });

  it('set to an empty value, makes no port opaque (unlike other variables, empty is not "unset")', () => {
    assert.deepEqual(config({ [VAR]: '' }).opaquePorts, new Set());
  });

  it('rejects a bad range or port, naming the variable and the entry', () => {
    assertRejected({ [VAR]: '25,9000-8000' }, VAR, /"9000-8000" is not a port/);
    assertRejected({ [VAR]: '1-2-3' }, VAR, /"1-2-3"/);
    assertRejected({ [VAR]: '70000' }, VAR, /"70000"/);
  });
});

describe('SLUICE_PROXY_SHUTDOWN_ENDPOINT_ENABLED', () => {
  it('enables /shutdown with true (or 1, yes)', () => {
    assert.equal(config({ SLUICE_PROXY_SHUTDOWN_ENDPOINT_ENABLED: 'true' }).shutdownEndpointEnabled, true);
    assert.equal(config({ SLUICE_PROXY_SHUTDOWN_ENDPOINT_ENABLED: '1' }).shutdownEndpointEnabled, true);
    assert.equal(config({ SLUICE_PROXY_SHUTDOWN_ENDPOINT_ENABLED: 'false' }).shutdownEndpointEnabled, false);
  });

  it('rejects anything else', () => {
    assertRejected({ SLUICE_PROXY_SHUTDOWN_ENDPOINT_ENABLED: 'maybe' }, 'SLUICE_PROXY_SHUTDOWN_ENDPOINT_ENABLED', /true or false/);
  });
});

describe('telemetry reports (SLUICE_PROXY_TELEMETRY_*, POD_*, WORKLOAD)', () => {
  it('reports nowhere by default, to the Destination address when only that is set, else to its own', () => {
    assert.equal(config({}).telemetry.svcAddr, undefined);
    assert.deepEqual(config({ SLUICE_PROXY_DESTINATION_SVC_ADDR: 'ctl.sluice:8086' }).telemetry.svcAddr, { host: 'ctl.sluice', port: 8086 });
    assert.deepEqual(
      config({ SLUICE_PROXY_DESTINATION_SVC_ADDR: 'ctl.sluice:8086', SLUICE_PROXY_TELEMETRY_SVC_ADDR: '10.0.0.9:9999' }).telemetry.svcAddr,
      { host: '10.0.0.9', port: 9999 },
    );
    assertRejected({ SLUICE_PROXY_TELEMETRY_SVC_ADDR: 'nope' }, 'SLUICE_PROXY_TELEMETRY_SVC_ADDR');
  });

  it('reports every 5 s unless told otherwise; never every 0 s', () => {
    assert.equal(config({}).telemetry.reportIntervalMs, 5_000);
    assert.equal(config({ SLUICE_PROXY_TELEMETRY_REPORT_INTERVAL: '10s' }).telemetry.reportIntervalMs, 10_000);
    assertRejected({ SLUICE_PROXY_TELEMETRY_REPORT_INTERVAL: '0' }, 'SLUICE_PROXY_TELEMETRY_REPORT_INTERVAL', /more than 0/);
  });

  it('names the pod (host name by default), its namespace (default) and its workload', () => {
    assert.equal(config({}).telemetry.podName, os.hostname());
    assert.equal(config({}).telemetry.podNamespace, 'default');
    assert.equal(config({}).telemetry.workload, '');
    const named = config({ SLUICE_PROXY_POD_NAME: 'web-5d8f-x2', SLUICE_PROXY_POD_NAMESPACE: 'shop', SLUICE_PROXY_WORKLOAD: 'deploy/web' });
    assert.deepEqual([named.telemetry.podName, named.telemetry.podNamespace, named.telemetry.workload], ['web-5d8f-x2', 'shop', 'deployment/web']);
    assert.equal(config({ SLUICE_PROXY_WORKLOAD: 'StatefulSet/db' }).telemetry.workload, 'statefulset/db');
    for (const bad of ['web', 'widget/web', 'deployment/', 'deployment/a/b']) {
      assertRejected({ SLUICE_PROXY_WORKLOAD: bad }, 'SLUICE_PROXY_WORKLOAD', /<kind>\/<name>/);
    }
  });
});

describe('docs/configuration.md', () => {
  const source = ['proxy-config.ts', 'destination-config.ts', 'identity-config.ts'].map((f) => readFileSync(join(import.meta.dirname, f), 'utf8')).join('\n');
  const docs = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'configuration.md'), 'utf8');
  const read = new Set(source.match(/SLUICE_PROXY_[A-Z0-9_]+/g));
  const documented = new Set([...docs.matchAll(/^\| `(SLUICE_PROXY_[A-Z0-9_]+)` \|/gm)].map((m) => m[1]));

  it('has a table row for every SLUICE_PROXY_* variable the proxy reads', () => {
    assert.ok(read.size >= 17);
    assert.deepEqual([...read].filter((v) => !documented.has(v)), []);
  });

  it('documents no variable the proxy does not read', () => {
    assert.deepEqual([...documented].filter((v) => !read.has(v ?? '')), []);
  });
});
