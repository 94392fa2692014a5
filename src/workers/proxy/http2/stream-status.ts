// Reading the outcome of a node:http2 upstream stream: its gRPC status, and the error code behind a failure.
import type http2 from 'node:http2';
import { GRPC_STATUS } from '../../../core/errors.ts';

export function codeOf(error: unknown): unknown {
  return (error as { code?: unknown } | null | undefined)?.code;
}

/** A stream cancelled before it was sent carries the session's failure (e.g. ECONNREFUSED) as its cause. */
export function causeOf(error: unknown): unknown {
  if (codeOf(error) === 'ERR_HTTP2_STREAM_CANCEL') return (error as { cause?: unknown }).cause ?? error;
  return error;
}

/** The response's gRPC status: -1 when absent, UNKNOWN when it is not a valid code. */
export function grpcStatusOf(headers: http2.IncomingHttpHeaders): number {
  const value = headers['grpc-status'];
  if (typeof value !== 'string') return -1;
  const code = Number(value);
  return Number.isInteger(code) && code >= 0 && code <= 16 ? code : GRPC_STATUS.UNKNOWN;
}
