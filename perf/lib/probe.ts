// One real request of the protocol through whatever listens on a port: readiness check and sanity check
// of every chain before it is measured.
import { request } from 'node:http';
import { connect } from 'node:http2';
import { GRPC_PATH, GRPC_REQUEST } from './grpc-frame.ts';
import { sleep } from './procs.ts';
import type { Protocol } from './types.ts';

/**
 * Resolves null when a request answered 200 (and grpc-status 0 for gRPC), else the reason. `authority`
 * is sent as Host / :authority (default: the address connected to).
 */
export function probeOnce(protocol: Protocol, port: number, timeoutMs = 2000, authority?: string): Promise<string | null> {
  return new Promise((resolve) => {
    let settled = false;
    const settle = (why: string | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(why);
    };
    const timer = setTimeout(() => {
      cleanup();
      settle(`no answer within ${timeoutMs} ms`);
    }, timeoutMs);
    let cleanup = (): void => {};
    if (protocol === 'h1') {
      const headers = authority === undefined ? {} : { host: authority };
      const req = request({ host: '127.0.0.1', port, path: '/', agent: false, headers }, (res) => {
        res.resume();
        res.on('end', () => settle(res.statusCode === 200 ? null : `HTTP status ${res.statusCode}`));
      });
      req.on('error', (e) => settle(String(e)));
      req.end();
      cleanup = () => req.destroy();
      return;
    }
    const session = connect(`http://127.0.0.1:${port}`);
    cleanup = () => session.destroy();
    session.on('error', (e) => {
      session.destroy();
      settle(String(e));
    });
    const grpc = protocol === 'grpc';
    const headers = grpc
      ? { ':method': 'POST', ':path': GRPC_PATH, 'content-type': 'application/grpc', te: 'trailers' }
      : { ':method': 'GET', ':path': '/' };
    const req = session.request(authority === undefined ? headers : { ...headers, ':authority': authority }, { endStream: !grpc });
    let status = 0;
    let grpcStatus: string | undefined;
    req.on('response', (h) => {
      status = Number(h[':status']);
      if (typeof h['grpc-status'] === 'string') grpcStatus = h['grpc-status'];
    });
    req.on('trailers', (t) => {
      if (typeof t['grpc-status'] === 'string') grpcStatus = t['grpc-status'];
    });
    req.on('data', () => {});
    req.on('end', () => {
      session.close();
      if (status !== 200) settle(`HTTP status ${status}`);
      else if (grpc && grpcStatus !== '0') settle(`grpc-status ${grpcStatus ?? 'missing'}`);
      else settle(null);
    });
    req.on('error', (e) => {
      session.destroy();
      settle(String(e));
    });
    if (grpc) req.end(GRPC_REQUEST);
  });
}

export interface WaitWorkingOptions {
  /** Why the chain cannot answer any more (a process exited), or null while it can. */
  gone?: () => string | null;
  /** Host / :authority to send. */
  authority?: string | undefined;
}

/** Retries probeOnce until it succeeds; throws with the last reason after `timeoutMs`. */
export async function waitWorking(protocol: Protocol, port: number, timeoutMs = 10000, o: WaitWorkingOptions = {}): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: string | null = 'not tried';
  while (Date.now() < deadline) {
    const dead = o.gone?.() ?? null;
    if (dead !== null) throw new Error(dead);
    last = await probeOnce(protocol, port, Math.min(2000, Math.max(100, deadline - Date.now())), o.authority);
    if (last === null) return;
    await sleep(100);
  }
  throw new Error(`no working ${protocol} answer on 127.0.0.1:${port} within ${timeoutMs} ms: ${last}`);
}

/** GET a path over HTTP/1.1; resolves with the status code (0 on connection error). */
export function httpStatus(port: number, path: string, timeoutMs = 1000): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
    req.end();
  });
}
