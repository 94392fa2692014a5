// How a response's body is delimited and whether its connection can carry another exchange. Pure.
import { bodyFraming, type Head } from './parse.ts';

export const B_NONE = 0;
export const B_LENGTH = 1;
export const B_CHUNKED = 2;
/** Delimited by the upstream closing the connection. */
export const B_CLOSE = 3;

export interface ResponseFraming {
  readonly body: number;
  /** For B_LENGTH: the body's length. */
  readonly length: number;
  /** HTTP/1.1, no `Connection: close`, and a body not delimited by close. */
  readonly reusable: boolean;
}

const CLOSE_TOKEN = /(?:^|,)\s*close\s*(?:,|$)/i;

/** `'bad'` for conflicting framing (RFC 9112 §6.3: the response cannot be forwarded safely). */
export function responseFraming(head: Head, isHeadMethod: boolean): ResponseFraming | 'bad' {
  let body = B_CLOSE;
  let length = 0;
  if (isHeadMethod || head.status === 204 || head.status === 304) {
    body = B_NONE;
  } else {
    const framing = bodyFraming(head, false);
    if (framing.kind === 'bad') return 'bad';
    if (framing.kind === 'none') body = B_NONE;
    else if (framing.kind === 'length') {
      body = B_LENGTH;
      length = framing.length;
    } else if (framing.kind === 'chunked') body = B_CHUNKED;
  }
  let upstreamClose = false;
  const { names, values } = head;
  for (let i = 0; i < names.length; i++) {
    if (names[i] === 'connection' && CLOSE_TOKEN.test(values[i] as string)) upstreamClose = true;
  }
  return { body, length, reusable: head.minor === 1 && !upstreamClose && body !== B_CLOSE };
}

/** A body up to this size that arrived with its head leaves with it in one write (copied after the head). */
const ONE_WRITE_BODY = 16 << 10;

/**
 * Where a whole response ends in a chunk of `available` bytes whose head ends at `headEnd`: its body is
 * Content-Length delimited, all there, and small. -1 otherwise (the body is forwarded as it comes).
 */
export function wholeResponseEnd(available: number, headEnd: number, framing: ResponseFraming): number {
  if (framing.body !== B_LENGTH || framing.length > ONE_WRITE_BODY || available - headEnd < framing.length) return -1;
  return headEnd + framing.length;
}
