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
    const name = this.agent.getName({ host: addr.host, port: addr.port });
    for (const socket of [...(this.agent.freeSockets[name] ?? [])]) socket.destroy();
    if ((this.agent.sockets[name]?.length ?? 0) > 0) this.retired.add(name);
  }

  /** An address that comes back must not have its new connections closed. */
  reinstate(addr: HostPort): void {
    if (this.retired.size > 0) this.retired.delete(this.agent.getName({ host: addr.host, port: addr.port }));
  }
}
