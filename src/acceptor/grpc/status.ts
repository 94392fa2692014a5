// gRPC's status codes and the rules that turn what arrives on an HTTP/2 stream into one of them
// (https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md, doc/http-grpc-status-mapping.md):
// `grpc-status` / percent-encoded `grpc-message` from trailers or a trailers-only head, an HTTP status
// that is not 200, a reset stream, a lost connection. Also the `grpc-timeout` header we send. Pure.
import { GrpcStatusCode } from '../../api/grpc-status.ts';

export const Status = GrpcStatusCode;

const NAMES = new Map<number, string>(Object.entries(Status).map(([name, code]) => [code, name]));

export function statusName(code: number): string {
  return NAMES.get(code) ?? `STATUS_${code}`;
}

/** How a call ended: `details` is the server's grpc-message, or what we saw go wrong. */
export interface GrpcStatus {
  readonly code: number;
  readonly details: string;
}

/** A call that did not end OK, as a rejected unary call reports it. */
export class GrpcError extends Error {
  override name = 'GrpcError';
  readonly code: number;
  readonly details: string;

  constructor(status: GrpcStatus) {
    super(`${statusName(status.code)}: ${status.details}`);
    this.code = status.code;
    this.details = status.details;
  }
}

/** `grpc-message` is percent-encoded UTF-8; a malformed escape is kept as it came. */
export function decodeGrpcMessage(value: string): string {
  if (!value.includes('%')) return value;
  const bytes: number[] = [];
  for (let i = 0; i < value.length; i++) {
    const hex = value[i] === '%' ? value.slice(i + 1, i + 3) : '';
    if (/^[0-9a-fA-F]{2}$/.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(value[i] as string, 'utf8'));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** The status a header list (trailers, or a trailers-only head) carries; UNKNOWN when it carries none. */
export function statusFromFields(fields: readonly string[]): GrpcStatus {
  let code: number | undefined;
  let details = '';
  for (let i = 0; i < fields.length; i += 2) {
    if (fields[i] === 'grpc-status') {
      const text = fields[i + 1] as string;
      code = /^\d{1,9}$/.test(text) ? Number(text) : undefined;
      if (code === undefined) details = `malformed grpc-status ${JSON.stringify(text)}`;
    } else if (fields[i] === 'grpc-message' && details === '') {
      details = decodeGrpcMessage(fields[i + 1] as string);
    }
  }
  if (code === undefined) return { code: Status.UNKNOWN, details: details || 'no grpc-status in the response' };
  return { code, details };
}

/** An HTTP status other than 200 on a response with no grpc-status (a proxy or load balancer answering). */
export function statusFromHttp(httpStatus: number): GrpcStatus {
  const details = `HTTP status ${httpStatus}`;
  switch (httpStatus) {
    case 400:
      return { code: Status.INTERNAL, details };
    case 401:
      return { code: Status.UNAUTHENTICATED, details };
    case 403:
      return { code: Status.PERMISSION_DENIED, details };
    case 404:
      return { code: Status.UNIMPLEMENTED, details };
    case 429:
    case 502:
    case 503:
    case 504:
      return { code: Status.UNAVAILABLE, details };
    default:
      return { code: Status.UNKNOWN, details };
  }
}

/** HTTP/2 error codes (RFC 9113 §7) a reset stream carries, as a call's status. */
export function statusFromReset(h2Code: number): GrpcStatus {
  const details = `stream reset by the server (HTTP/2 error ${h2Code})`;
  switch (h2Code) {
    case 0x7: // REFUSED_STREAM: not processed
      return { code: Status.UNAVAILABLE, details: 'stream refused by the server' };
    case 0x8: // CANCEL
      return { code: Status.CANCELLED, details };
    case 0xb: // ENHANCE_YOUR_CALM
      return { code: Status.RESOURCE_EXHAUSTED, details };
    case 0xc: // INADEQUATE_SECURITY
      return { code: Status.PERMISSION_DENIED, details };
    default:
      return { code: Status.INTERNAL, details };
  }
}

/** The `grpc-timeout` header for a deadline `ms` away: at most 8 digits, in the finest unit that fits. */
export function encodeGrpcTimeout(ms: number): string {
  const whole = Math.max(1, Math.ceil(ms));
  if (whole < 1e8) return `${whole}m`;
  const seconds = Math.ceil(whole / 1000);
  if (seconds < 1e8) return `${seconds}S`;
  return `${Math.min(Math.ceil(seconds / 3600), 99_999_999)}H`;
}
