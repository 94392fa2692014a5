// The accepted connection a node:http socket belongs to: node:http hands requests and upgrades over with
// only the socket, so the connection's facts (direction, original destination) ride on it.
import type { Duplex } from 'node:stream';
import type { AcceptedConnection } from '../context.ts';

const CONN = Symbol('sluice.connection');
type WithConn = { [CONN]?: AcceptedConnection };

export function tagConnection(socket: Duplex, conn: AcceptedConnection): void {
  (socket as WithConn)[CONN] = conn;
}

export function connectionOf(socket: Duplex): AcceptedConnection | undefined {
  return (socket as WithConn)[CONN];
}
