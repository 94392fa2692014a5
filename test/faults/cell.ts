// One cell of the fault matrix: a steady load in the cell's protocol through the topology while the
// fault happens beside it, then the outcomes of both, to be recorded and asserted.
import http2 from 'node:http2';
import { eventually } from '../support/backends.ts';
import { http1Request, h2Request, startLoad, summarize, tcpRequest, type Outcome, type Protocol } from './load.ts';
import type { Running } from './matrix.ts';

/** Requests per second and seconds of the load beside each fault: modest, and a few seconds per cell. */
export const LOAD_RATE: Readonly<Record<Protocol, number>> = { http1: 150, h2c: 150, grpc: 150, tcp: 60 };
export const LOAD_MS = 2_000;

export interface UnderLoad<T> {
  readonly load: readonly Outcome[];
  readonly fault: T;
}

/**
 * Runs the load; once a fifth of it has started (so the fault lands in the middle of traffic, whatever
 * the machine's speed), runs `fault`; resolves when both are over.
 */
export async function underLoad<T>(running: Running, protocol: Protocol, tag: string, fault: () => Promise<T>, durationMs = LOAD_MS): Promise<UnderLoad<T>> {
  const rate = LOAD_RATE[protocol];
  const load = startLoad({ protocol, port: running.port, authority: running.authority, ratePerSecond: rate, durationMs, tag });
  await eventually(() => load.started() >= (rate * durationMs) / 5000, 30_000, 'the load to get going');
  const result = await fault();
  return { load: await load.done, fault: result };
}

/** The load's failures, for a message that says what went wrong. */
export function lost(outcomes: readonly Outcome[]): Outcome[] {
  return outcomes.filter((o) => o.kind !== 'ok');
}

export function measuredLoad(outcomes: readonly Outcome[]): Record<string, unknown> {
  return { load: summarize(outcomes) };
}

/** One request of `protocol` on its own connection: the request a fault targets. */
export async function victim(running: Running, protocol: Protocol, id: string, path: string, grpcPath?: string, extra: http2.OutgoingHttpHeaders = {}): Promise<Outcome> {
  if (protocol === 'http1') return http1Request(running.port, running.authority, path, id);
  if (protocol === 'tcp') return tcpRequest(running.port, id);
  const session = http2.connect(`http://127.0.0.1:${running.port}`);
  session.on('error', () => {});
  try {
    return protocol === 'grpc' ? await h2Request(session, running.authority, grpcPath, id, extra, true) : await h2Request(session, running.authority, path, id, extra);
  } finally {
    session.destroy();
  }
}
