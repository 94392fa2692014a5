// A minimal HTTP/1.1 server for the admin endpoints, on a plain net.Server with the proxy's own head
// parser. node:http alone adds ~13 MB to the main thread's memory, more than everything else the
// admin server needs; these endpoints are a handful of small GET/PUT/POST requests from kubelet
// probes, Prometheus and operators. Keep-alive, Content-Length bodies (small), HEAD; nothing else.
import net from 'node:net';
import { parseHead } from '../workers/http1/parse.ts';

export interface AdminRequest {
  readonly method: string;
  /** The path without its query. */
  readonly path: string;
  readonly headers: ReadonlyMap<string, string>;
  readonly body: string;
  readonly remoteAddress: string | undefined;
}

export interface AdminResponse {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body: string | Buffer;
}

export type AdminHandler = (req: AdminRequest) => Promise<AdminResponse>;

const MAX_HEAD = 8 * 1024;
/** Request bodies larger than this are refused (the log level is a word). */
const MAX_BODY = 1024;
/** Scrapers keep connections open; idle ones close after this, so they never hold up shutdown long. */
const IDLE_MS = 5_000;

const REASONS: Readonly<Record<number, string>> = {
  200: 'OK',
  202: 'Accepted',
  400: 'Bad Request',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  413: 'Payload Too Large',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export class AdminHttpServer {
  readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();

  constructor(handler: AdminHandler) {
    this.server = net.createServer((socket) => this.serve(socket, handler));
  }

  /** Closes every connection now (shutdown). */
  closeAllConnections(): void {
    for (const socket of this.sockets) socket.destroy();
  }

  close(): void {
    this.server.close();
  }

  private serve(socket: net.Socket, handler: AdminHandler): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.setTimeout(IDLE_MS, () => socket.destroy());
    let buf: Buffer | undefined;
    let busy = false;
    const next = (): void => {
      if (busy || buf === undefined) return;
      const head = parseHead(buf, true, MAX_HEAD);
      if (head === 'need-more') return;
      if (typeof head === 'string') return reply(socket, { status: head === 'too-large' ? 413 : 400, body: 'bad request\n' }, false, true);
      const headers = new Map<string, string>();
      for (let i = 0; i < head.names.length; i++) headers.set(head.names[i] as string, head.values[i] as string);
      const length = Number(headers.get('content-length') ?? '0');
      if (!Number.isInteger(length) || length < 0 || length > MAX_BODY || headers.has('transfer-encoding')) {
        return reply(socket, { status: 413, body: 'request body too large\n' }, false, true);
      }
      if (buf.length < head.end + length) return;
      const body = buf.toString('utf8', head.end, head.end + length);
      buf = buf.length > head.end + length ? buf.subarray(head.end + length) : undefined;
      const close = head.minor === 0 || /(?:^|,)\s*close\s*(?:,|$)/i.test(headers.get('connection') ?? '');
      const q = head.target.indexOf('?');
      const req: AdminRequest = {
        method: head.method,
        path: q < 0 ? head.target : head.target.slice(0, q),
        headers,
        body,
        remoteAddress: socket.remoteAddress,
      };
      busy = true;
      handler(req)
        .catch((error: Error): AdminResponse => ({ status: 500, body: `${error.message}\n` }))
        .then((res) => {
          busy = false;
          reply(socket, res, req.method === 'HEAD', close);
          if (!close) next();
        });
    };
    socket.on('data', (chunk: Buffer) => {
      buf = buf === undefined ? chunk : Buffer.concat([buf, chunk]);
      if (buf.length > MAX_HEAD + MAX_BODY) return reply(socket, { status: 413, body: 'request too large\n' }, false, true);
      next();
    });
  }
}

function reply(socket: net.Socket, res: AdminResponse, head: boolean, close: boolean): void {
  if (socket.destroyed) return;
  const body = typeof res.body === 'string' ? Buffer.from(res.body) : res.body;
  let text = `HTTP/1.1 ${res.status} ${REASONS[res.status] ?? ''}\r\n`;
  for (const [name, value] of Object.entries(res.headers ?? { 'content-type': 'text/plain; charset=utf-8' })) text += `${name}: ${value}\r\n`;
  text += `content-length: ${body.length}\r\n${close ? 'connection: close\r\n' : ''}\r\n`;
  socket.write(text, 'latin1');
  if (!head) socket.write(body);
  if (close) socket.end();
}
