// The value parsers behind every SLUICE_PROXY_* variable: what each accepts, what it returns, and that
// anything else is a ConfigError naming the variable.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ConfigError, formatHostPort, parseBool, parseDuration, parseHostPort, parsePortList, type HostPort } from './parse.ts';

const VAR = 'SLUICE_PROXY_TEST';
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Asserts that `fn` throws a ConfigError for VAR whose message shows the variable and the value. */
function assertConfigError(fn: () => unknown, value: string, expected?: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    assert.equal(error.name, 'ConfigError');
    assert.equal(error.variable, VAR);
    assert.ok(error.message.startsWith(`${VAR}=${JSON.stringify(value)}: `), error.message);
    if (expected !== undefined) assert.match(error.message, expected);
    return true;
  });
}

/** Runs `fn`; any exception other than a ConfigError fails the property. */
function onlyConfigErrors<T>(fn: () => T): T | ConfigError {
  try {
    return fn();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
}

const port = fc.integer({ min: 0, max: 65535 });
const host = fc.oneof(fc.ipV4(), fc.ipV6(), fc.domain());

describe('ConfigError', () => {
  it('says which variable was wrong, with the value quoted, and what was expected', () => {
    const error = new ConfigError('SLUICE_PROXY_WORKERS', 'abc', 'expected a whole number');
    assert.equal(error.message, 'SLUICE_PROXY_WORKERS="abc": expected a whole number');
    assert.equal(error.variable, 'SLUICE_PROXY_WORKERS');
    assert.ok(error instanceof Error);
  });
});

describe('formatHostPort', () => {
  it('writes IPv4 addresses and names as host:port', () => {
    assert.equal(formatHostPort({ host: '127.0.0.1', port: 4140 }), '127.0.0.1:4140');
    assert.equal(formatHostPort({ host: 'web.default.svc', port: 80 }), 'web.default.svc:80');
  });

  it('brackets IPv6 addresses', () => {
    assert.equal(formatHostPort({ host: '::1', port: 4140 }), '[::1]:4140');
    assert.equal(formatHostPort({ host: 'fd00::1:2', port: 8080 }), '[fd00::1:2]:8080');
  });
});

describe('parseHostPort', () => {
  it('accepts IPv4 host:port', () => {
    assert.deepEqual(parseHostPort(VAR, '127.0.0.1:4140'), { host: '127.0.0.1', port: 4140 });
    assert.deepEqual(parseHostPort(VAR, '0.0.0.0:4143'), { host: '0.0.0.0', port: 4143 });
  });

  it('accepts bracketed IPv6 [v6]:port and returns the address without brackets', () => {
    assert.deepEqual(parseHostPort(VAR, '[::1]:4140'), { host: '::1', port: 4140 });
    assert.deepEqual(parseHostPort(VAR, '[::]:4143'), { host: '::', port: 4143 });
    assert.deepEqual(parseHostPort(VAR, '[::ffff:10.0.0.1]:80'), { host: '::ffff:10.0.0.1', port: 80 });
  });

  it('accepts a name as the host (forward addresses may be DNS names)', () => {
    assert.deepEqual(parseHostPort(VAR, 'localhost:8080'), { host: 'localhost', port: 8080 });
    assert.deepEqual(parseHostPort(VAR, 'web.default.svc.cluster.local:80'), {
      host: 'web.default.svc.cluster.local',
      port: 80,
    });
  });

  it('accepts port 0 (the OS picks a free port; tests rely on it) and port 65535', () => {
    assert.deepEqual(parseHostPort(VAR, '127.0.0.1:0'), { host: '127.0.0.1', port: 0 });
    assert.deepEqual(parseHostPort(VAR, '127.0.0.1:65535'), { host: '127.0.0.1', port: 65535 });
  });

  it('rejects a port above 65535 saying what the range is', () => {
    assertConfigError(() => parseHostPort(VAR, '127.0.0.1:70000'), '127.0.0.1:70000', /0–65535/);
    assertConfigError(() => parseHostPort(VAR, '[::1]:65536'), '[::1]:65536', /0–65535/);
  });

  for (const bad of [
    'nope',
    '127.0.0.1',
    ':4140',
    '127.0.0.1:',
    '127.0.0.1:http',
    '127.0.0.1:-1',
    '127.0.0.1:123456',
    '::1:4140',
    '[::1]',
    '[::1]4140',
    '[nope]:80',
    '[1.2.3.4]:80',
    'a b:80',
    ' 127.0.0.1:4140',
    '',
  ]) {
    it(`rejects ${JSON.stringify(bad)} with an example of the expected form`, () => {
      assertConfigError(() => parseHostPort(VAR, bad), bad, /host:port/);
    });
  }

  it('round-trips through formatHostPort for every IPv4, IPv6 and DNS host and every port', () => {
    fc.assert(
      fc.property(host, port, (h, p) => {
        const addr: HostPort = { host: h, port: p };
        assert.deepEqual(parseHostPort(VAR, formatHostPort(addr)), addr);
      }),
    );
  });

  it('never throws anything but a ConfigError, and what it accepts it accepts again once formatted', () => {
    const input = fc.oneof(
      fc.string(),
      fc.tuple(host, fc.string({ unit: fc.constantFrom('0', '1', '9', ':', '[', ']'), maxLength: 8 })).map(
        ([h, tail]) => `${h}${tail}`,
      ),
    );
    fc.assert(
      fc.property(input, (text) => {
        const result = onlyConfigErrors(() => parseHostPort(VAR, text));
        if (result instanceof ConfigError) {
          assert.equal(result.variable, VAR);
          return;
        }
        assert.ok(Number.isInteger(result.port) && result.port >= 0 && result.port <= 65535);
        assert.deepEqual(parseHostPort(VAR, formatHostPort(result)), result);
      }),
    );
  });
});

describe('parseDuration (Linkerd-style)', () => {
  const cases: Array<[string, number]> = [
    ['100ms', 100],
    ['10s', 10_000],
    ['2m', 120_000],
    ['1h', 3_600_000],
    ['1d', 86_400_000],
    ['0', 0],
    ['0s', 0],
    ['250', 250],
    ['1.5s', 1500],
    ['0.25m', 15_000],
  ];
  for (const [text, ms] of cases) {
    it(`reads ${text} as ${ms} ms`, () => assert.equal(parseDuration(VAR, text), ms));
  }

  it('reads a bare number as milliseconds', () => {
    assert.equal(parseDuration(VAR, '3000'), 3000);
  });

  it('rounds fractions of a millisecond, but never a positive duration down to 0 (which disables a timeout)', () => {
    assert.equal(parseDuration(VAR, '1.4ms'), 1);
    assert.equal(parseDuration(VAR, '1.6ms'), 2);
    assert.equal(parseDuration(VAR, '0.4ms'), 1);
    assert.equal(parseDuration(VAR, '0.0001s'), 1);
    assert.equal(parseDuration(VAR, '0.0ms'), 0);
  });

  it('caps long durations such as 365d at 2^31-1 ms (~24.8 days), the longest timer Node keeps', () => {
    assert.equal(parseDuration(VAR, '365d'), MAX_TIMER_MS);
    assert.equal(parseDuration(VAR, '25d'), MAX_TIMER_MS);
    assert.equal(parseDuration(VAR, '24d'), 24 * 86_400_000);
    assert.equal(parseDuration(VAR, '9'.repeat(400)), MAX_TIMER_MS);
  });

  for (const bad of ['10x', '', 's', '-1s', '1.s', '.5s', '10 s', '1e3', '10S', '1M', 'NaN', 'Infinity', '1h30m', ' 1s']) {
    it(`rejects ${JSON.stringify(bad)}`, () => {
      assertConfigError(() => parseDuration(VAR, bad), bad, /duration such as 100ms, 10s, 2m/);
    });
  }

  it('multiplies a whole number by its unit exactly (up to the cap)', () => {
    const units: Array<[string, number]> = [
      ['', 1],
      ['ms', 1],
      ['s', 1000],
      ['m', 60_000],
      ['h', 3_600_000],
      ['d', 86_400_000],
    ];
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1e9 }), fc.constantFrom(...units), (n, [unit, factor]) => {
        assert.equal(parseDuration(VAR, `${n}${unit}`), Math.min(n * factor, MAX_TIMER_MS));
      }),
    );
  });

  it('never throws anything but a ConfigError, and returns whole milliseconds in [0, 2^31-1]', () => {
    const input = fc.oneof(
      fc.string(),
      fc.stringMatching(/^\d{0,12}(\.\d{0,6})?(ms|s|m|h|d|x)?$/),
    );
    fc.assert(
      fc.property(input, (text) => {
        const result = onlyConfigErrors(() => parseDuration(VAR, text));
        if (result instanceof ConfigError) return;
        assert.ok(Number.isInteger(result) && result >= 0 && result <= MAX_TIMER_MS, `${text} → ${result}`);
      }),
    );
  });
});

describe('parsePortList', () => {
  it('reads comma-separated ports', () => {
    assert.deepEqual(parsePortList(VAR, '25,587,3306'), [25, 587, 3306]);
  });

  it('expands inclusive ranges low-high', () => {
    assert.deepEqual(parsePortList(VAR, '8000-8003'), [8000, 8001, 8002, 8003]);
    assert.deepEqual(parsePortList(VAR, '25,8000-8001,9300'), [25, 8000, 8001, 9300]);
    assert.deepEqual(parsePortList(VAR, '80-80'), [80]);
  });

  it('reads an empty list as no ports', () => {
    assert.deepEqual(parsePortList(VAR, ''), []);
    assert.deepEqual(parsePortList(VAR, ' , ,'), []);
  });

  it('ignores spaces around entries and empty entries', () => {
    assert.deepEqual(parsePortList(VAR, ' 25 , 587 ,, 6379,'), [25, 587, 6379]);
  });

  it('accepts the whole range 1-65535', () => {
    const all = parsePortList(VAR, '1-65535');
    assert.equal(all.length, 65535);
    assert.equal(all[0], 1);
    assert.equal(all.at(-1), 65535);
  });

  for (const bad of ['0', '65536', '10-5', '1-2-3', 'abc', '-5', '5-', '1-70000', '25;587', '25 587', '2 5', '0x19', '+25']) {
    it(`rejects ${JSON.stringify(bad)}, naming the entry that is wrong`, () => {
      assertConfigError(() => parsePortList(VAR, bad), bad, /is not a port \(1–65535\) or a range low-high/);
    });
  }

  it('names the offending entry inside a longer list', () => {
    assertConfigError(() => parsePortList(VAR, '25,900-800,3306'), '25,900-800,3306', /"900-800"/);
  });

  it('expands any list of ports and ranges to exactly those ports, in order', () => {
    const entry = fc.oneof(
      fc.integer({ min: 1, max: 65535 }).map((p) => ({ text: String(p), ports: [p] })),
      fc
        .tuple(fc.integer({ min: 1, max: 65535 }), fc.integer({ min: 0, max: 20 }))
        .filter(([low, span]) => low + span <= 65535)
        .map(([low, span]) => ({
          text: `${low}-${low + span}`,
          ports: Array.from({ length: span + 1 }, (_, i) => low + i),
        })),
    );
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 8 }), (entries) => {
        const text = entries.map((e) => e.text).join(',');
        assert.deepEqual(parsePortList(VAR, text), entries.flatMap((e) => e.ports));
      }),
    );
  });

  it('never throws anything but a ConfigError, and returns only ports 1–65535', () => {
    const input = fc.oneof(fc.string(), fc.stringMatching(/^[0-9,\- ]{0,24}$/));
    fc.assert(
      fc.property(input, (text) => {
        const result = onlyConfigErrors(() => parsePortList(VAR, text));
        if (result instanceof ConfigError) return;
        for (const p of result) assert.ok(Number.isInteger(p) && p >= 1 && p <= 65535, `${text} → ${p}`);
      }),
    );
  });
});

describe('parseBool', () => {
  it('reads true, 1 and yes as true, in any case', () => {
    for (const text of ['true', 'TRUE', 'True', '1', 'yes', 'YES']) assert.equal(parseBool(VAR, text), true, text);
  });

  it('reads false, 0 and no as false, in any case', () => {
    for (const text of ['false', 'FALSE', '0', 'no', 'No']) assert.equal(parseBool(VAR, text), false, text);
  });

  for (const bad of ['on', 'off', '', 'y', '2', 'truee']) {
    it(`rejects ${JSON.stringify(bad)}`, () => {
      assertConfigError(() => parseBool(VAR, bad), bad, /expected true or false/);
    });
  }
});
