// Reading what the proxy needs from HTTP/2 header lists (flat [name, value, …], names lower case as
// the engine checked them). Pure.
import type { Header } from '../../tap/registry.ts';
import { CLIENT_ID_HEADER } from '../mesh-tls.ts';

export interface RequestFacts {
  readonly method: string;
  readonly scheme: string;
  readonly authority: string;
  readonly path: string;
  readonly grpc: boolean;
  readonly grpcTimeout: string | undefined;
  /** The client sent a sluice-client-id field (dropped inbound: only the proxy sets it). */
  readonly clientIdSent: boolean;
}

/** One pass over a request head. The authority is :authority, else Host (RFC 9113 §8.3.1). */
export function requestFacts(headers: readonly string[]): RequestFacts {
  let method = 'GET';
  let scheme = 'http';
  let authority: string | undefined;
  let host: string | undefined;
  let path = '/';
  let grpc = false;
  let grpcTimeout: string | undefined;
  let clientIdSent = false;
  for (let i = 0; i + 1 < headers.length; i += 2) {
    const name = headers[i] as string;
    const value = headers[i + 1] as string;
    switch (name) {
      case ':method':
        method = value;
        break;
      case ':scheme':
        scheme = value.toLowerCase();
        break;
      case ':authority':
        authority = value;
        break;
      case ':path':
        path = value;
        break;
      case 'host':
        host = value;
        break;
      case 'content-type':
        // gRPC's own convention: application/grpc, application/grpc+proto, …
        grpc = value.startsWith('application/grpc');
        break;
      case 'grpc-timeout':
        grpcTimeout = value;
        break;
      case CLIENT_ID_HEADER:
        clientIdSent = true;
        break;
    }
  }
  return { method, scheme, authority: authority ?? host ?? '', path, grpc, grpcTimeout, clientIdSent };
}

/** A head's grpc-status: -1 when absent, UNKNOWN (2) when it is not a valid code. */
export function grpcStatusIn(headers: readonly string[]): number {
  for (let i = 0; i + 1 < headers.length; i += 2) {
    if (headers[i] !== 'grpc-status') continue;
    const code = Number(headers[i + 1]);
    return Number.isInteger(code) && code >= 0 && code <= 16 ? code : 2;
  }
  return -1;
}

/** Regular (non-pseudo) fields, for tap events. */
export function headerFields(headers: readonly string[]): Header[] {
  const out: Header[] = [];
  for (let i = 0; i + 1 < headers.length; i += 2) {
    const name = headers[i] as string;
    if (name.charCodeAt(0) !== 0x3a) out.push({ name, value: Buffer.from(headers[i + 1] as string, 'latin1') });
  }
  return out;
}

/** The never-indexed field numbers of `headers` once its sluice-client-id fields are dropped (withClientId). */
export function neverIndexedWithoutClientId(headers: readonly string[], neverIndexed: readonly number[]): number[] {
  const out: number[] = [];
  for (const field of neverIndexed) {
    if (headers[field * 2] === CLIENT_ID_HEADER) continue;
    let dropped = 0;
    for (let f = 0; f < field; f++) if (headers[f * 2] === CLIENT_ID_HEADER) dropped++;
    out.push(field - dropped);
  }
  return out;
}
