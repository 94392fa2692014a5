// The proxy's log lines: one per event, plain `key=value` or JSON, filtered by a level that the admin
// endpoint can change while the proxy runs.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Logger, formatJson, formatPlain, isLogLevel } from './logger.ts';
import { LOG_LEVELS, type LogLevel } from '../config/proxy-config.ts';

const TIME = new Date('2026-01-02T03:04:05.678Z');

/** Any text: every Unicode scalar value, with the characters that need escaping made likely. */
const anyText = fc.string({
  unit: fc.oneof(
    fc.constantFrom('\n', '\r', '"', '\\', '\u2028', ' ', '='),
    fc
      .integer({ min: 0, max: 0x10ffff })
      .filter((c) => c < 0xd800 || c > 0xdfff)
      .map((c) => String.fromCodePoint(c)),
  ),
  maxLength: 32,
});

function capture(level: LogLevel, format: 'plain' | 'json' = 'plain'): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  return { logger: new Logger(level, format, 'proxy', (line) => lines.push(line)), lines };
}

describe('formatPlain', () => {
  it('writes time, padded upper-case level, scope, message, then key=value fields in order', () => {
    assert.equal(
      formatPlain(TIME, 'info', 'proxy', 'proxy ready', { inbound: '0.0.0.0:4143', workers: 4, tls: false }),
      '2026-01-02T03:04:05.678Z INFO  proxy: proxy ready inbound=0.0.0.0:4143 workers=4 tls=false',
    );
    assert.equal(formatPlain(TIME, 'error', 'worker-1', 'boom', {}), '2026-01-02T03:04:05.678Z ERROR worker-1: boom');
    assert.equal(formatPlain(TIME, 'warn', 's', 'm', {}), '2026-01-02T03:04:05.678Z WARN  s: m');
    assert.equal(formatPlain(TIME, 'debug', 's', 'm', {}), '2026-01-02T03:04:05.678Z DEBUG s: m');
    assert.equal(formatPlain(TIME, 'trace', 's', 'm', {}), '2026-01-02T03:04:05.678Z TRACE s: m');
  });

  it('leaves simple values bare: words, dots, colons, slashes, @, dashes and brackets', () => {
    assert.equal(
      formatPlain(TIME, 'info', 's', 'm', { a: 'web.default.svc:80', b: '/path/x', c: 'u@h', d: '[::1]:4140', e: 'a_b-c' }),
      '2026-01-02T03:04:05.678Z INFO  s: m a=web.default.svc:80 b=/path/x c=u@h d=[::1]:4140 e=a_b-c',
    );
  });

  it('quotes values with spaces, quotes, newlines or nothing in them, JSON-style', () => {
    assert.equal(
      formatPlain(TIME, 'info', 's', 'm', { error: 'connect ECONNREFUSED 127.0.0.1:1', q: 'say "hi"', nl: 'a\nb', empty: '' }),
      '2026-01-02T03:04:05.678Z INFO  s: m error="connect ECONNREFUSED 127.0.0.1:1" q="say \\"hi\\"" nl="a\\nb" empty=""',
    );
  });

  it('leaves out fields whose value is undefined', () => {
    assert.equal(formatPlain(TIME, 'info', 's', 'm', { a: undefined, b: 1 }), '2026-01-02T03:04:05.678Z INFO  s: m b=1');
  });

  it('quotes a message with a line break, so that an event is always one line', () => {
    assert.equal(formatPlain(TIME, 'info', 's', 'two\nlines', {}), '2026-01-02T03:04:05.678Z INFO  s: "two\\nlines"');
  });

  it('always writes exactly one line, whatever the message and fields', () => {
    fc.assert(
      fc.property(anyText, fc.dictionary(fc.stringMatching(/^[a-z_]{1,8}$/), anyText), (msg, fields) => {
        const line = formatPlain(TIME, 'info', 's', msg, fields);
        assert.ok(!/[\r\n]/.test(line), JSON.stringify(line));
      }),
    );
  });
});

describe('formatJson', () => {
  it('writes one JSON object: timestamp, level, scope, message, then the fields with their types', () => {
    const line = formatJson(TIME, 'warn', 'proxy', 'listener error', { direction: 'inbound', port: 4143, ok: false });
    assert.equal(
      line,
      '{"timestamp":"2026-01-02T03:04:05.678Z","level":"WARN","scope":"proxy","message":"listener error","direction":"inbound","port":4143,"ok":false}',
    );
  });

  it('leaves out fields whose value is undefined', () => {
    assert.deepEqual(JSON.parse(formatJson(TIME, 'info', 's', 'm', { a: undefined, b: 'x' })), {
      timestamp: '2026-01-02T03:04:05.678Z',
      level: 'INFO',
      scope: 's',
      message: 'm',
      b: 'x',
    });
  });

  it('does not let a field overwrite the event keys: it is written as field.<name>', () => {
    const event = JSON.parse(formatJson(TIME, 'error', 's', 'real message', { message: 'x', level: 'y', timestamp: 'z', scope: 'w' }));
    assert.equal(event.message, 'real message');
    assert.equal(event.level, 'ERROR');
    assert.equal(event.timestamp, '2026-01-02T03:04:05.678Z');
    assert.equal(event.scope, 's');
    assert.equal(event['field.message'], 'x');
    assert.equal(event['field.level'], 'y');
    assert.equal(event['field.timestamp'], 'z');
    assert.equal(event['field.scope'], 'w');
  });

  it('always writes one line of valid JSON that gives back the message and every field', () => {
    const key = fc.stringMatching(/^[a-z_]{1,8}$/).filter((k) => !['timestamp', 'level', 'scope', 'message'].includes(k));
    const value = fc.oneof(anyText, fc.integer(), fc.boolean());
    fc.assert(
      fc.property(anyText, fc.dictionary(key, value), (msg, fields) => {
        const line = formatJson(TIME, 'debug', 'w', msg, fields);
        assert.ok(!/[\r\n]/.test(line));
        const event = JSON.parse(line) as Record<string, unknown>;
        assert.equal(event['message'], msg);
        for (const [k, v] of Object.entries(fields)) assert.equal(event[k], v);
      }),
    );
  });

  it('keeps a field named __proto__ as an ordinary key', () => {
    const fields = JSON.parse('{"__proto__":"p"}') as Record<string, string>;
    assert.match(formatJson(TIME, 'info', 's', 'm', fields), /"__proto__":"p"/);
  });
});

describe('Logger', () => {
  it('writes events at or above its level and drops the rest', () => {
    const { logger, lines } = capture('info');
    logger.error('e');
    logger.warn('w');
    logger.info('i');
    logger.debug('d');
    logger.log('trace', 't', {});
    assert.deepEqual(
      lines.map((l) => / ([A-Z]+) +proxy: (\w)$/.exec(l)?.slice(1).join(' ')),
      ['ERROR e', 'WARN w', 'INFO i'],
    );
  });

  it('orders levels error < warn < info < debug < trace', () => {
    for (const [i, level] of LOG_LEVELS.entries()) {
      const { logger } = capture(level);
      for (const [j, other] of LOG_LEVELS.entries()) assert.equal(logger.enabled(other), j <= i, `${level} logger, ${other} event`);
    }
  });

  it('at error writes errors only; at trace writes everything', () => {
    const quiet = capture('error');
    quiet.logger.warn('w');
    quiet.logger.error('e');
    assert.equal(quiet.lines.length, 1);
    const loud = capture('trace');
    for (const level of LOG_LEVELS) loud.logger.log(level, level, {});
    assert.equal(loud.lines.length, 5);
  });

  it('follows a level changed at run time (admin /proxy-log-level)', () => {
    const { logger, lines } = capture('warn');
    logger.debug('hidden');
    logger.level = 'debug';
    assert.equal(logger.enabled('debug'), true);
    logger.debug('shown');
    logger.level = 'error';
    logger.warn('hidden again');
    assert.equal(lines.length, 1);
    assert.match(lines[0] ?? '', /DEBUG proxy: shown$/);
  });

  it('writes JSON when its format is json, with its scope', () => {
    const { logger, lines } = capture('info', 'json');
    logger.info('proxy ready', { workers: 2 });
    const event = JSON.parse(lines[0] ?? '') as Record<string, unknown>;
    assert.equal(event['level'], 'INFO');
    assert.equal(event['scope'], 'proxy');
    assert.equal(event['message'], 'proxy ready');
    assert.equal(event['workers'], 2);
    assert.ok(!Number.isNaN(Date.parse(String(event['timestamp']))));
  });

  it('writes plain text with fields when its format is plain', () => {
    const { logger, lines } = capture('info', 'plain');
    logger.warn('could not hand off connection', { error: 'EBADF' });
    assert.match(lines[0] ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z WARN  proxy: could not hand off connection error=EBADF$/);
  });
});

describe('isLogLevel', () => {
  it('accepts the five lowercase level names only', () => {
    for (const level of ['error', 'warn', 'info', 'debug', 'trace']) assert.equal(isLogLevel(level), true);
    for (const other of ['INFO', 'off', '', 'warning', 'info ']) assert.equal(isLogLevel(other), false, other);
  });
});
