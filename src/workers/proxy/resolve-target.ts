// Where a request for a name goes when the control plane does not route it: the name's address from the
// thread's DNS cache. A name that does not resolve falls back to the connection's own destination (the
// application reached it somehow, so that is where it meant to go). Called per request: a cached answer
// costs no allocation (the resolved address object is kept per target and reused while it holds).
import type { HostPort } from '../../config/parse.ts';
import type { AcceptedConnection, WorkerContext } from './context.ts';
import { namesListener } from './routing.ts';

/** The last address object made for each target whose host is a name. */
const resolvedOf = new WeakMap<HostPort, HostPort>();

/** Calls `done` with an address (synchronously when cached), or undefined when neither works. */
export function resolveTarget(ctx: WorkerContext, conn: AcceptedConnection, target: HostPort, done: (resolved: HostPort | undefined) => void): void {
  const cached = ctx.dns.cached(target.host);
  if (cached === undefined) ctx.dns.resolve(target.host, (address) => settle(ctx, conn, target, address, done));
  else settle(ctx, conn, target, cached, done);
}

function settle(ctx: WorkerContext, conn: AcceptedConnection, target: HostPort, address: string | null | undefined, done: (resolved: HostPort | undefined) => void): void {
  const resolved = address === undefined || address === null ? undefined : address === target.host ? target : addressOf(target, address);
  // A name that resolves back to this listener would make the proxy talk to itself.
  const usable = resolved !== undefined && !(conn.direction === 'outbound' && namesListener(resolved, conn.listen));
  if (usable) done(resolved);
  else if (conn.target !== undefined && conn.target !== target) resolveTarget(ctx, conn, conn.target, done);
  else done(undefined);
}

function addressOf(target: HostPort, address: string): HostPort {
  const known = resolvedOf.get(target);
  if (known !== undefined && known.host === address) return known;
  const fresh = { host: address, port: target.port };
  resolvedOf.set(target, fresh);
  return fresh;
}
