// Readiness probes for the demo launcher: wait until a port accepts, an HTTP endpoint answers 200, or
// a gRPC method answers — polling, with a deadline, and giving up early when told to.
import http from 'node:http';
import net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { loadEmojivoto, unary } from './common.ts';

export interface HttpAnswer {
  readonly status: number;
  readonly body: string;
  readonly headers: http.IncomingHttpHeaders;
}

export function tcpConnects(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export function httpGet(host: string, port: number, path: string, headers: Record<string, string> = {}, timeoutMs = 3000): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port, path, headers, timeout: timeoutMs, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

/** Calls one unary method of the demo's own gRPC services straight at the app (no proxy). */
export async function grpcAnswers(service: 'EmojiService' | 'VotingService', method: string, addr: string): Promise<boolean> {
  const client = new (loadEmojivoto()[service])(addr, grpc.credentials.createInsecure());
  try {
    await unary(client, method, {}, 1000);
    return true;
  } catch {
    return false;
  } finally {
    client.close();
  }
}

/**
 * Polls `check` every `intervalMs` until it returns true (resolves true), `timeoutMs` passes or
 * `abandoned()` turns true (resolves false).
 */
export async function waitFor(check: () => Promise<boolean>, timeoutMs: number, abandoned: () => boolean, intervalMs = 150): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!abandoned()) {
    if (await check().catch(() => false)) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  return false;
}
