// The CLI's client of the controller's public API, over HTTP/JSON (`POST /api/v1/<Method>`). The
// address comes from `--api`, else SLUICE_API_ADDR, else 127.0.0.1:8085; failures to connect become
// one readable message that says where the CLI looked and how to point it elsewhere.
import { jsonLines, StreamFailed } from '../api/json-lines.ts';

export const DEFAULT_API_ADDR = '127.0.0.1:8085';
const UNARY_TIMEOUT_MS = 30_000;

export class CliError extends Error {
  /** The process exit status to use. */
  readonly exitCode: number;

  constructor(message: string, exitCode = 1) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

/** `--api` wins over SLUICE_API_ADDR, which wins over the default. Accepts `host:port` or a URL. */
export function apiBaseUrl(flag: string | undefined, env: Readonly<Record<string, string | undefined>>): string {
  const addr = (flag ?? '').trim() || (env['SLUICE_API_ADDR'] ?? '').trim() || DEFAULT_API_ADDR;
  const url = /^https?:\/\//.test(addr) ? addr : `http://${addr}`;
  try {
    return new URL(url).origin;
  } catch {
    throw new CliError(`invalid API address "${addr}": expected HOST:PORT (e.g. ${DEFAULT_API_ADDR})`, 2);
  }
}

function unreachable(base: string, error: unknown): CliError {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  const why =
    cause?.code === 'ECONNREFUSED'
      ? 'connection refused'
      : cause?.code === 'ENOTFOUND' || cause?.code === 'EAI_AGAIN'
        ? 'host not found'
        : (error as Error).name === 'TimeoutError'
          ? 'no answer in time'
          : (cause?.message ?? (error as Error).message);
  return new CliError(
    `cannot reach the Sluice controller's public API at ${base.replace(/^http:\/\//, '')} (${why}).\n` +
      'Is sluice-controller running? Point the CLI at it with --api HOST:PORT or SLUICE_API_ADDR.',
  );
}

async function failure(response: Response, method: string): Promise<CliError> {
  let message = `${response.status} ${response.statusText}`;
  try {
    const body = (await response.json()) as { error?: string };
    if (typeof body.error === 'string') message = body.error;
  } catch {
    // not JSON: keep the status line
  }
  return new CliError(`the controller refused ${method}: ${message}`);
}

export class ApiClient {
  readonly base: string;
  /** Sent with every call (tap's `authorization`). */
  private readonly headers: Readonly<Record<string, string>>;

  constructor(base: string, headers: Readonly<Record<string, string>> = {}) {
    this.base = base;
    this.headers = headers;
  }

  /** Calls a unary method; resolves with its JSON answer. */
  async call<T>(method: string, request: object = {}): Promise<T> {
    let response: Response;
    try {
      response = await fetch(`${this.base}/api/v1/${method}`, {
        method: 'POST',
        headers: { ...this.headers, 'content-type': 'application/json' },
        body: JSON.stringify(request),
        signal: AbortSignal.timeout(UNARY_TIMEOUT_MS),
      });
    } catch (error) {
      throw unreachable(this.base, error);
    }
    if (!response.ok) throw await failure(response, method);
    return (await response.json()) as T;
  }

  /** Calls a server-streaming method; `onMessage` gets each message until the stream ends or `signal` aborts. */
  async stream<T>(method: string, request: object, onMessage: (message: T) => void, signal?: AbortSignal): Promise<void> {
    let response: Response;
    try {
      response = await fetch(`${this.base}/api/v1/${method}`, {
        method: 'POST',
        headers: { ...this.headers, 'content-type': 'application/json' },
        body: JSON.stringify(request),
        ...(signal === undefined ? {} : { signal }),
      });
    } catch (error) {
      if (signal?.aborted === true) return;
      throw unreachable(this.base, error);
    }
    if (!response.ok || response.body === null) throw await failure(response, method);
    try {
      for await (const message of jsonLines(response.body)) onMessage(message as T);
    } catch (error) {
      if (signal?.aborted === true) return;
      if (error instanceof StreamFailed) throw new CliError(`${method} failed: ${error.message}`);
      if (error instanceof CliError) throw error;
      throw new CliError(`${method} stream broke: ${(error as Error).message}`);
    }
  }
}
