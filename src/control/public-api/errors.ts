// Errors a public API handler can throw: a gRPC status code and a message. The server sends them as
// gRPC trailers (`grpc-status`, `grpc-message`) or as an HTTP status with a JSON body.
// Any thrown object with a numeric `code` between 1 and 16 (a grpc-js ServiceError, say) works too.
import { GrpcStatusCode } from '../../api/grpc-status.ts';

export const GrpcStatus = GrpcStatusCode;

export class ApiError extends Error {
  readonly code: number;

  constructor(code: number, message: string) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
  }
}

/** The gRPC status and message of anything a handler threw. */
export function statusOf(error: unknown): { code: number; message: string } {
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  if (typeof code === 'number' && Number.isInteger(code) && code >= 1 && code <= 16) {
    // grpc-js prefixes its messages with "<code> <NAME>: "; pass on only the details.
    const details = (error as { details?: unknown }).details;
    return { code, message: typeof details === 'string' && details !== '' ? details : message };
  }
  return { code: GrpcStatus.INTERNAL, message };
}

/** The HTTP status that a gRPC status maps to (as grpc-gateway maps them). */
export function httpStatusOf(code: number): number {
  switch (code) {
    case GrpcStatus.OK:
      return 200;
    case GrpcStatus.CANCELLED:
      return 499;
    case GrpcStatus.INVALID_ARGUMENT:
    case GrpcStatus.FAILED_PRECONDITION:
    case GrpcStatus.OUT_OF_RANGE:
      return 400;
    case GrpcStatus.DEADLINE_EXCEEDED:
      return 504;
    case GrpcStatus.NOT_FOUND:
      return 404;
    case GrpcStatus.ALREADY_EXISTS:
    case GrpcStatus.ABORTED:
      return 409;
    case GrpcStatus.PERMISSION_DENIED:
      return 403;
    case GrpcStatus.UNAUTHENTICATED:
      return 401;
    case GrpcStatus.RESOURCE_EXHAUSTED:
      return 429;
    case GrpcStatus.UNIMPLEMENTED:
      return 501;
    case GrpcStatus.UNAVAILABLE:
      return 503;
    default:
      return 500;
  }
}
