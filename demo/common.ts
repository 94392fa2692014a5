// What the demo's three services and its traffic generator share: the emoji catalogue, the gRPC
// definitions in emojivoto.proto, a small logger and command-line helpers. The demo is an ordinary
// application; it knows nothing of Sluice beyond the addresses it is given.
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

export interface Emoji {
  readonly unicode: string;
  /** With colons: `:doughnut:`. */
  readonly shortcode: string;
}

/** Every emoji the voting service has a `Vote…` method for (see emojivoto.proto), doughnut first. */
export const EMOJIS: readonly Emoji[] = [
  { unicode: '🍩', shortcode: ':doughnut:' },
  { unicode: '😂', shortcode: ':joy:' },
  { unicode: '😎', shortcode: ':sunglasses:' },
  { unicode: '🚀', shortcode: ':rocket:' },
  { unicode: '🎉', shortcode: ':tada:' },
  { unicode: '❤️', shortcode: ':heart:' },
  { unicode: '👍', shortcode: ':thumbsup:' },
  { unicode: '🔥', shortcode: ':fire:' },
  { unicode: '🦄', shortcode: ':unicorn:' },
  { unicode: '🍕', shortcode: ':pizza:' },
  { unicode: '🌮', shortcode: ':taco:' },
  { unicode: '☕', shortcode: ':coffee:' },
  { unicode: '🐱', shortcode: ':cat:' },
  { unicode: '🐶', shortcode: ':dog:' },
  { unicode: '🐼', shortcode: ':panda:' },
  { unicode: '🐙', shortcode: ':octopus:' },
  { unicode: '🌵', shortcode: ':cactus:' },
  { unicode: '🌈', shortcode: ':rainbow:' },
  { unicode: '⚡', shortcode: ':zap:' },
  { unicode: '❄️', shortcode: ':snowflake:' },
  { unicode: '👻', shortcode: ':ghost:' },
  { unicode: '🤖', shortcode: ':robot:' },
  { unicode: '👑', shortcode: ':crown:' },
  { unicode: '🎈', shortcode: ':balloon:' },
];

/** The emoji whose vote fails part of the time, as in emojivoto. */
export const BROKEN_EMOJI = ':doughnut:';

/** `:thumbsup:` → `VoteThumbsup`, the VotingService method for that emoji. */
export function voteMethod(shortcode: string): string {
  const word = shortcode.replace(/:/g, '');
  return `Vote${word.charAt(0).toUpperCase()}${word.slice(1)}`;
}

export const PROTO_FILE = fileURLToPath(new URL('./emojivoto.proto', import.meta.url));

export interface EmojivotoPackage {
  readonly EmojiService: grpc.ServiceClientConstructor;
  readonly VotingService: grpc.ServiceClientConstructor;
}

export function loadEmojivoto(): EmojivotoPackage {
  const definition = protoLoader.loadSync(PROTO_FILE, { keepCase: true, defaults: true });
  const root = grpc.loadPackageDefinition(definition) as unknown as { emojivoto: { v1: EmojivotoPackage } };
  return root.emojivoto.v1;
}

/**
 * A gRPC client for `authority` that connects to `via` — the sidecar's outbound listener. Without
 * iptables this is how an app "dials a Service name": the bytes go to the proxy, and the proxy routes
 * by the `:authority` pseudo-header, which grpc-js takes from `grpc.default_authority`.
 */
export function meshClient(ctor: grpc.ServiceClientConstructor, via: string, authority: string): grpc.Client {
  return new ctor(via, grpc.credentials.createInsecure(), {
    'grpc.default_authority': authority,
    // The proxy may close idle upstream connections; reconnect quickly rather than backing off for long.
    'grpc.initial_reconnect_backoff_ms': 100,
    'grpc.max_reconnect_backoff_ms': 1000,
  });
}

/** Calls a unary method by name and resolves with the response or rejects with the gRPC error. */
export function unary<Res>(client: grpc.Client, method: string, request: object, deadlineMs: number): Promise<Res> {
  const fn = (client as unknown as Record<string, unknown>)[method];
  if (typeof fn !== 'function') return Promise.reject(new Error(`no method ${method}`));
  return new Promise((resolve, reject) => {
    (fn as (req: object, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res: Res) => void) => void).call(
      client,
      request,
      { deadline: Date.now() + deadlineMs },
      (error, response) => (error === null ? resolve(response) : reject(error)),
    );
  });
}

export type Level = 'error' | 'warn' | 'info' | 'debug';
const RANK: Readonly<Record<Level, number>> = { error: 0, warn: 1, info: 2, debug: 3 };

export function parseLevel(text: string | undefined): Level {
  if (text === undefined) return 'info';
  const lower = text.toLowerCase();
  if (lower === 'error' || lower === 'warn' || lower === 'info' || lower === 'debug') return lower;
  throw new Error(`unknown log level ${JSON.stringify(text)} (error, warn, info, debug)`);
}

/** `time LEVEL scope: message key=value …` on stderr, the same shape as Sluice's own logs. */
export class Log {
  private readonly rank: number;
  private readonly scope: string;

  constructor(scope: string, level: Level) {
    this.scope = scope;
    this.rank = RANK[level];
  }

  error(msg: string, fields: Record<string, unknown> = {}): void {
    this.write('error', msg, fields);
  }
  warn(msg: string, fields: Record<string, unknown> = {}): void {
    this.write('warn', msg, fields);
  }
  info(msg: string, fields: Record<string, unknown> = {}): void {
    this.write('info', msg, fields);
  }
  debug(msg: string, fields: Record<string, unknown> = {}): void {
    this.write('debug', msg, fields);
  }

  private write(level: Level, msg: string, fields: Record<string, unknown>): void {
    if (RANK[level] > this.rank) return;
    let line = `${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} ${this.scope}: ${msg}`;
    for (const [key, value] of Object.entries(fields)) {
      if (value === undefined) continue;
      const text = String(value);
      line += ` ${key}=${/^[\w.:/@\-[\]]+$/.test(text) ? text : JSON.stringify(text)}`;
    }
    process.stderr.write(`${line}\n`);
  }
}

/** `host:port` → its parts; `[v6]:port` too. */
export function splitAddr(text: string): { host: string; port: number } {
  const at = text.lastIndexOf(':');
  const port = Number(text.slice(at + 1));
  if (at <= 0 || !Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`expected host:port, got ${JSON.stringify(text)}`);
  const host = text.slice(0, at).replace(/^\[(.*)\]$/, '$1');
  return { host, port };
}

/**
 * Runs `stop` on SIGTERM or SIGINT (once), then exits 0. With `watchStdin` (scripts/start.ts passes
 * `--watch-stdin` and keeps a pipe open on stdin) the end of stdin counts too: the launcher is gone, so
 * the app does not linger as an orphan.
 */
export function onStop(log: Log, watchStdin: boolean, stop: () => Promise<void> | void): void {
  let stopping = false;
  const run = (reason: string): void => {
    if (stopping) return;
    stopping = true;
    log.info('stopping', { reason });
    // Whatever the app still has open must not keep it alive past its parent's patience.
    setTimeout(() => process.exit(0), 2000).unref();
    void Promise.resolve(stop()).finally(() => process.exit(0));
  };
  process.on('SIGTERM', () => run('SIGTERM'));
  process.on('SIGINT', () => run('SIGINT'));
  if (watchStdin) {
    process.stdin.on('end', () => run('parent went away'));
    process.stdin.on('error', () => run('parent went away'));
    process.stdin.resume();
  }
}
