// The node:http stack's upstream connections (an http.Agent) as the mesh retires them: when an endpoint
// leaves every destination its idle connections close now, and busy ones when their exchange ends
// instead of going back to the pool. The fast engine's pool does the same itself (upstream-pool.ts).
import type http from 'node:http';
import type net from 'node:net';
import type { HostPort } from '../../../config/parse.ts';

export class AgentConnections {
  private readonly agent: http.Agent;
  /** Pool names (`host:port:`) of endpoints gone from every destination. */
  private readonly retired = new Set<string>();

  constructor(agent: http.Agent) {
    this.agent = agent;
    // Runs after the agent's own 'free' handler has put the socket in its free list.
    agent.on('free', (socket: net.Socket, options: http.ClientRequestArgs) => {
      if (this.retired.size === 0) return;
      const name = agent.getName(options);
      if (!this.retired.has(name)) return;
      // Only a socket the agent pooled; one handed straight to a queued request stays in use.
      if (agent.freeSockets[name]?.includes(socket) === true) socket.destroy();
      if ((agent.sockets[name]?.length ?? 0) === 0) this.retired.delete(name);
    });
  }

  retire(addr: HostPort): void {
    for (const name of this.poolsOf(addr)) {
      for (const socket of [...(this.agent.freeSockets[name] ?? [])]) socket.destroy();
      if ((this.agent.sockets[name]?.length ?? 0) > 0) this.retired.add(name);
    }
  }

  /** An address that comes back must not have its new connections closed. */
  reinstate(addr: HostPort): void {
    if (this.retired.size === 0) return;
    const base = this.agent.getName({ host: addr.host, port: addr.port });
    for (const name of [...this.retired]) if (name.startsWith(base)) this.retired.delete(name);
  }

  /**
   * The agent's pools for `addr`: the plaintext one (`host:port:`) and those of mesh TLS connections,
   * whose names add the identity they verified (node-stack.ts).
   */
  private poolsOf(addr: HostPort): string[] {
    const base = this.agent.getName({ host: addr.host, port: addr.port });
    const names = new Set([base]);
    for (const name of [...Object.keys(this.agent.freeSockets), ...Object.keys(this.agent.sockets)]) {
      if (name.startsWith(base)) names.add(name);
    }
    return [...names];
  }
}
