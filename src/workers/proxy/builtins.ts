// node:http is loaded the first time a stack needs it, not at start: a worker that only ever runs the
// fast HTTP/1 engine and the lean HTTP/2 stack never pays its memory (~9 MB per thread).
import type http from 'node:http';

let httpModule: typeof http | undefined;

export function nodeHttp(): typeof http {
  return (httpModule ??= process.getBuiltinModule('node:http'));
}
