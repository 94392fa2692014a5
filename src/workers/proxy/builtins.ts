// node:http and node:http2 are loaded the first time a stack needs them, not at start: a worker that
// only ever runs the fast HTTP/1 engine never pays their memory (~10 MB per thread for the two).
import type http from 'node:http';
import type http2 from 'node:http2';

let httpModule: typeof http | undefined;
let http2Module: typeof http2 | undefined;

export function nodeHttp(): typeof http {
  return (httpModule ??= process.getBuiltinModule('node:http'));
}

export function nodeHttp2(): typeof http2 {
  return (http2Module ??= process.getBuiltinModule('node:http2'));
}

/** nghttp2's error codes (RFC 9113 §7), as node:http2 names them, without loading it. */
export const NGHTTP2_NO_ERROR = 0;
export const NGHTTP2_INTERNAL_ERROR = 2;
export const NGHTTP2_REFUSED_STREAM = 7;
export const NGHTTP2_CANCEL = 8;
