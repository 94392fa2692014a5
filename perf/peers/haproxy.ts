// HAProxy as a peer: the config for one protocol, and how to run it in the foreground.
import type { Protocol } from '../lib/types.ts';

export interface PeerConfig {
  listenPort: number;
  backendPort: number;
  protocol: Protocol;
}

/**
 * One thread (`nbthread 1`: the comparison is one core, like the proxy with one worker), HTTP mode with
 * keep-alive on both sides and idle server connections reused by any client (`http-reuse always`).
 * h2c and gRPC: `proto h2` on the bind line (h2c prior knowledge from clients) and on the server line
 * (h2c to the backend), so streams are multiplexed end to end.
 */
export function haproxyConfig(c: PeerConfig): string {
  const h2 = c.protocol === 'h1' ? '' : ' proto h2';
  return [
    'global',
    '  nbthread 1',
    '  maxconn 8000',
    '  tune.bufsize 16384',
    '',
    'defaults',
    '  mode http',
    '  option http-keep-alive',
    '  http-reuse always',
    '  timeout connect 1s',
    '  timeout client 120s',
    '  timeout server 120s',
    '  timeout http-keep-alive 120s',
    '',
    'frontend fe',
    `  bind 127.0.0.1:${c.listenPort}${h2}`,
    '  default_backend be',
    '',
    'backend be',
    `  server s1 127.0.0.1:${c.backendPort}${h2} maxconn 8000`,
    '',
  ].join('\n');
}

/** argv to run HAProxy in the foreground (`-db`: no daemon, no background), so our PID is HAProxy's. */
export function haproxyArgs(configPath: string): string[] {
  return ['-f', configPath, '-db'];
}
