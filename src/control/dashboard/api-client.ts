// The dashboard server's client of the public API's HTTP/JSON side (`POST /api/v1/<Method>`), for what
// the page passes through (it must get the public API's own JSON and statuses, errors included) and for
// taps (streamed, and authorized like the CLI's). The history and the topology call StatSummary in
// process instead (sampler.ts).
import { jsonLines, StreamFailed } from '../../api/json-lines.ts';

export class PublicApiUnavailable extends Error {
  override name = 'PublicApiUnavailable';
}

export interface UnaryAnswer {
  readonly status: number;
  /** The response body as the public API sent it (JSON text). */
  readonly body: string;
}

const UNARY_TIMEOUT_MS = 15_000;

export class PublicApiClient {
  readonly base: string;
  /** The `authorization` streams are sent with (tap, which the controller authorizes in Kubernetes). */
  private readonly authorization: () => Promise<string | undefined>;

  /** `base`: `http://host:port` of the public API. */
  constructor(base: string, authorization: () => Promise<string | undefined> = async () => undefined) {
    this.base = base;
    this.authorization = authorization;
  }

  /** The public API's answer to one unary call, status and body untouched (the page reads errors too). */
  async call(method: string, body: string, signal?: AbortSignal): Promise<UnaryAnswer> {
    let response: Response;
    try {
      response = await fetch(`${this.base}/api/v1/${method}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        signal: signal === undefined ? AbortSignal.timeout(UNARY_TIMEOUT_MS) : AbortSignal.any([signal, AbortSignal.timeout(UNARY_TIMEOUT_MS)]),
      });
      return { status: response.status, body: await response.text() };
    } catch (error) {
      throw new PublicApiUnavailable(`the public API at ${this.base} did not answer ${method}: ${causeOf(error)}`);
    }
  }

  /** A unary call whose answer must be 200 and JSON. */
  async json<T>(method: string, request: object, signal?: AbortSignal): Promise<T> {
    const answer = await this.call(method, JSON.stringify(request), signal);
    if (answer.status !== 200) throw new PublicApiUnavailable(`${method} answered ${answer.status}: ${answer.body.slice(0, 300)}`);
    return JSON.parse(answer.body) as T;
  }

  /**
   * A server-streaming call: `onMessage` gets each newline-delimited JSON message until the stream ends
   * (resolves) or `signal` aborts (resolves). A broken stream or an error message rejects.
   */
  async stream(method: string, request: object, onMessage: (message: unknown) => void, signal: AbortSignal): Promise<void> {
    let response: Response;
    try {
      const authorization = await this.authorization();
      response = await fetch(`${this.base}/api/v1/${method}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(authorization === undefined ? {} : { authorization }) },
        body: JSON.stringify(request),
        signal,
      });
    } catch (error) {
      if (signal.aborted) return;
      throw new PublicApiUnavailable(`the public API at ${this.base} did not answer ${method}: ${causeOf(error)}`);
    }
    if (response.status !== 200 || response.body === null) {
      const text = await response.text().catch(() => '');
      throw new PublicApiUnavailable(`${method} answered ${response.status}: ${errorText(text)}`);
    }
    try {
      for await (const message of jsonLines(response.body)) onMessage(message);
    } catch (error) {
      if (signal.aborted) return;
      if (error instanceof StreamFailed) throw new PublicApiUnavailable(`${method} failed: ${error.message}`);
      if (error instanceof PublicApiUnavailable) throw error;
      throw new PublicApiUnavailable(`${method} stream broke: ${(error as Error).message}`);
    }
  }
}

function errorText(body: string): string {
  try {
    const parsed = JSON.parse(body) as { error?: unknown };
    if (typeof parsed.error === 'string') return parsed.error;
  } catch {
    // not JSON
  }
  return body.slice(0, 300);
}

function causeOf(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error as Error).message;
}
