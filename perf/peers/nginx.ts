// nginx as a peer: the config for one protocol, and how to run it in the foreground.
import type { Protocol } from '../lib/types.ts';
import type { PeerConfig } from './haproxy.ts';

export interface NginxPaths {
  /** A private directory for the pid file, logs and temp paths. */
  dir: string;
}

/**
 * One worker process (plus the master; CPU and memory are summed over both).
 * - h1: `proxy_pass` to an upstream with `keepalive` (HTTP/1.1, `Connection: ""`) to the HTTP/1.1 backend.
 * - h2c: `listen … http2` (prior knowledge) in front. nginx's `proxy_pass` speaks only HTTP/1.x upstream,
 *   so h2c cannot be forwarded as h2c with it: nginx's h2c run uses `grpc_pass`, its only HTTP/2 upstream
 *   module, which forwards any HTTP/2 request (it adds `te: trailers`) to the h2c backend.
 * - gRPC: `listen … http2` and `grpc_pass` to the gRPC backend, upstream keepalive.
 */
export function nginxConfig(c: PeerConfig, p: NginxPaths): string {
  const h2 = c.protocol !== 'h1';
  const location = h2
    ? ['      grpc_pass grpc://be;', '      grpc_socket_keepalive on;']
    : ['      proxy_pass http://be;', '      proxy_http_version 1.1;', '      proxy_set_header Connection "";', '      proxy_buffering on;'];
  return [
    'user root;',
    'worker_processes 1;',
    'daemon off;',
    'master_process on;',
    `pid ${p.dir}/nginx.pid;`,
    `error_log ${p.dir}/error.log warn;`,
    'events { worker_connections 8192; multi_accept on; }',
    'http {',
    '  access_log off;',
    `  client_body_temp_path ${p.dir}/body;`,
    `  proxy_temp_path ${p.dir}/proxy;`,
    `  fastcgi_temp_path ${p.dir}/fastcgi;`,
    `  uwsgi_temp_path ${p.dir}/uwsgi;`,
    `  scgi_temp_path ${p.dir}/scgi;`,
    '  keepalive_timeout 120s;',
    '  keepalive_requests 1000000;',
    '  upstream be {',
    `    server 127.0.0.1:${c.backendPort};`,
    '    keepalive 512;',
    '    keepalive_requests 1000000;',
    '    keepalive_timeout 120s;',
    '  }',
    '  server {',
    `    listen 127.0.0.1:${c.listenPort}${h2 ? ' http2' : ''};`,
    '    location / {',
    ...location,
    '    }',
    '  }',
    '}',
    '',
  ].join('\n');
}

/** argv to run nginx in the foreground with that config (`-e` sends start-up errors to our file too). */
export function nginxArgs(configPath: string, p: NginxPaths): string[] {
  return ['-c', configPath, '-p', `${p.dir}/`, '-e', `${p.dir}/error.log`];
}
