// Structured logging: one line per event, plain (`key=value`) or JSON, to stderr.
// The level can change at run time (admin `/proxy-log-level`), so it is read on every call.
import type { LogFormat, LogLevel } from '../config/proxy-config.ts';
import { LOG_LEVELS } from '../config/proxy-config.ts';

export type LogFields = Readonly<Record<string, string | number | boolean | undefined>>;

const RANK: Readonly<Record<LogLevel, number>> = { error: 0, warn: 1, info: 2, debug: 3, trace: 4 };

export function isLogLevel(value: string): value is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(value);
}

function quote(value: string): string {
  return /^[\w.:/@\-[\]]*$/.test(value) && value !== '' ? value : JSON.stringify(value);
}

/** One line per event: a message with a line break in it is written quoted (JSON-escaped). */
export function formatPlain(time: Date, level: LogLevel, scope: string, msg: string, fields: LogFields): string {
  const text = /[\r\n]/.test(msg) ? JSON.stringify(msg) : msg;
  let line = `${time.toISOString()} ${level.toUpperCase().padEnd(5)} ${scope}: ${text}`;
  for (const key in fields) {
    const value = fields[key];
    if (value !== undefined) line += ` ${key}=${quote(String(value))}`;
  }
  return line;
}

const JSON_EVENT_KEYS = new Set(['timestamp', 'level', 'scope', 'message']);

/**
 * One JSON object per event. A field cannot overwrite the event's own keys: one named `timestamp`,
 * `level`, `scope` or `message` is written as `field.<name>`.
 */
export function formatJson(time: Date, level: LogLevel, scope: string, msg: string, fields: LogFields): string {
  // No prototype, so that even a field named `__proto__` is an ordinary key.
  const event: Record<string, string | number | boolean | undefined> = Object.create(null);
  event['timestamp'] = time.toISOString();
  event['level'] = level.toUpperCase();
  event['scope'] = scope;
  event['message'] = msg;
  for (const key in fields) event[JSON_EVENT_KEYS.has(key) ? `field.${key}` : key] = fields[key];
  return JSON.stringify(event);
}

export class Logger {
  level: LogLevel;
  readonly format: LogFormat;
  readonly scope: string;
  private readonly write: (line: string) => void;

  constructor(level: LogLevel, format: LogFormat, scope: string, write: (line: string) => void = stderrLine) {
    this.level = level;
    this.format = format;
    this.scope = scope;
    this.write = write;
  }

  enabled(level: LogLevel): boolean {
    return RANK[level] <= RANK[this.level];
  }

  error(msg: string, fields: LogFields = {}): void {
    this.log('error', msg, fields);
  }
  warn(msg: string, fields: LogFields = {}): void {
    this.log('warn', msg, fields);
  }
  info(msg: string, fields: LogFields = {}): void {
    this.log('info', msg, fields);
  }
  debug(msg: string, fields: LogFields = {}): void {
    this.log('debug', msg, fields);
  }

  log(level: LogLevel, msg: string, fields: LogFields): void {
    if (RANK[level] > RANK[this.level]) return;
    const format = this.format === 'json' ? formatJson : formatPlain;
    this.write(format(new Date(), level, this.scope, msg, fields));
  }
}

function stderrLine(line: string): void {
  process.stderr.write(line + '\n');
}
