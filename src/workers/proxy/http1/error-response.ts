// The bytes of an answer the proxy gives an HTTP/1 client itself (the one error table, core/errors.ts,
// decides status and message). Pure; one place for every HTTP/1 path: the fast engine, the node:http
// stack's malformed-request answers, and tunnels.
import { ERROR_RESPONSES, PROXY_ERROR_HEADER, type ProxyErrorKind } from '../../../core/errors.ts';
import { reasonPhrase } from '../../http1/reason.ts';

const cache = new Map<string, Buffer>();

/** The whole response, head and body; `close` adds `connection: close`. Cached: there are few kinds. */
export function errorResponseBytes(kind: ProxyErrorKind, close: boolean): Buffer {
  const key = close ? `${kind}:close` : kind;
  let bytes = cache.get(key);
  if (bytes === undefined) {
    const { status, message } = ERROR_RESPONSES[kind];
    const body = `${message}\n`;
    bytes = Buffer.from(
      `HTTP/1.1 ${status} ${reasonPhrase(status)}\r\n${PROXY_ERROR_HEADER}: ${message}\r\n` +
        `content-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
        `${close ? 'connection: close\r\n' : ''}\r\n${body}`,
      'latin1',
    );
    cache.set(key, bytes);
  }
  return bytes;
}
