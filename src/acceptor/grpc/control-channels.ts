// The proxy's channels to the control plane, one per address and shared: Destination and Telemetry
// live at the same controller port (8086), so a meshed proxy holds ONE connection for both. Each user
// acquires the channel and releases it; the last release closes it. The socket is made here, the one
// place where the transport to the controller is chosen (plain TCP now; mTLS in issue 8).
import { formatHostPort, type HostPort } from '../../config/parse.ts';
import { connectUpstream } from '../../workers/transport/connect.ts';
import { GrpcChannel } from './channel.ts';

/** A controller that does not complete a TCP handshake in this long counts as unavailable. */
export const CONTROL_CONNECT_TIMEOUT_MS = 10_000;

export interface ControlChannel {
  readonly channel: GrpcChannel;
  release(): void;
}

const shared = new Map<string, { channel: GrpcChannel; users: number }>();

export function acquireControlChannel(addr: HostPort): ControlChannel {
  const key = formatHostPort(addr);
  let entry = shared.get(key);
  if (entry === undefined) {
    const channel = new GrpcChannel({
      authority: key,
      connect: () => connectUpstream(addr, CONTROL_CONNECT_TIMEOUT_MS),
      userAgent: 'sluice-proxy/0.1.0',
    });
    shared.set(key, (entry = { channel, users: 0 }));
  }
  entry.users++;
  const held = entry;
  let released = false;
  return {
    channel: held.channel,
    release: () => {
      if (released) return;
      released = true;
      if (--held.users > 0) return;
      if (shared.get(key) === held) shared.delete(key);
      held.channel.close();
    },
  };
}
