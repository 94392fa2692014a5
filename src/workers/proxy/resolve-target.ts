// Where a request for a name goes when the control plane does not route it: the name's address from the
// thread's DNS cache. A name that does not resolve falls back to the connection's own destination (the
// application reached it somehow, so that is where it meant to go).
import type { HostPort } from '../../config/parse.ts';
import type { AcceptedConnection, WorkerContext } from './context.ts';
import { namesListener } from './routing.ts';

/** Calls `done` with an address (synchronously when cached), or undefined when neither works. */
export function resolveTarget(ctx: WorkerContext, conn: AcceptedConnection, target: HostPort, done: (resolved: HostPort | undefined) => void): void {
  const proceed = (address: string | undefined): void => {
    const resolved = address === undefined ? undefined : address === target.host ? target : { host: address, port: target.port };
    // A name that resolves back to this listener would make the proxy talk to itself.
    const usable = resolved !== undefined && !(conn.direction === 'outbound' && namesListener(resolved, conn.listen));
    if (usable) done(resolved);
    else if (conn.target !== undefined && conn.target !== target) resolveTarget(ctx, conn, conn.target, done);
    else done(undefined);
  };
  const cached = ctx.dns.cached(target.host);
  if (cached === undefined) ctx.dns.resolve(target.host, proceed);
  else proceed(cached ?? undefined);
}
