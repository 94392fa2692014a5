// The answers the proxy gives an HTTP/2 client itself, from the one error table (core/errors.ts): an
// HTTP status with a short body, or for gRPC callers a trailers-only response carrying the gRPC status
// (gRPC clients read the outcome from grpc-status, never from the HTTP status). Pure.
import { ERROR_RESPONSES, PROXY_ERROR_HEADER, type ProxyErrorKind } from '../../../core/errors.ts';

export interface H2ErrorAnswer {
  readonly headers: string[];
  /** The body for a plain HTTP answer; undefined for gRPC (the headers end the stream). */
  readonly body: Buffer | undefined;
}

const cache = new Map<string, H2ErrorAnswer>();

export function h2ErrorAnswer(kind: ProxyErrorKind, grpc: boolean): H2ErrorAnswer {
  const key = grpc ? `g:${kind}` : kind;
  let answer = cache.get(key);
  if (answer === undefined) {
    const { status, grpc: grpcStatus, message } = ERROR_RESPONSES[kind];
    answer = grpc
      ? {
          headers: [':status', '200', 'content-type', 'application/grpc', 'grpc-status', String(grpcStatus), 'grpc-message', message, PROXY_ERROR_HEADER, message],
          body: undefined,
        }
      : {
          headers: [':status', String(status), 'content-type', 'text/plain; charset=utf-8', PROXY_ERROR_HEADER, message],
          body: Buffer.from(`${message}\n`),
        };
    cache.set(key, answer);
  }
  return answer;
}
