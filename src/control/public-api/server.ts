// The public API on one port: gRPC (HTTP/2, `application/grpc`) and HTTP/JSON (`POST /api/v1/<Method>`
// over HTTP/1.1 or HTTP/2), told apart by the first bytes of each connection with the proxy's own
// detector. gRPC framing is done here over node:http2 (grpc-js cannot share a port with anything
// else); messages are encoded with the same proto-loader definitions the rest of the project uses.
//
// Both sides dispatch by method name to the handlers registered in the PublicApiRegistry, so a method
// registered later (Tap) is served without touching this file, as long as public.proto declares it.
// JSON requests use the proto field names (snake_case as written in the .proto); responses carry every
// field, defaults included. Server streams become newline-delimited JSON.
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import * as protoLoader from '@grpc/proto-loader';
import { LOADER_OPTIONS } from '../../api/proto.ts';
import { formatHostPort, type HostPort } from '../../config/parse.ts';
import type { Logger } from '../../log/logger.ts';
import { DETECT_MAX_BYTES, detectProtocol } from '../../protocol-detect/detect.ts';
import type { PublicApiRegistry } from '../context.ts';
import { ApiError, GrpcStatus, httpStatusOf, statusOf } from './errors.ts';

export const PUBLIC_PROTO = 'public.proto';
export const PUBLIC_SERVICE = 'sluice.public.Api';
/** Largest request body accepted, on either protocol. */
const MAX_REQUEST_BYTES = 4 * 1024 * 1024;
/** A streaming client that reads slower than this much buffered output is cut off. */
const MAX_BUFFERED_BYTES = 16 * 1024 * 1024;
const DETECT_TIMEOUT_MS = 10_000;

interface MethodCodec {
  readonly name: string;
  readonly stream: boolean;
  decode(bytes: Buffer): unknown;
  encode(message: unknown): Buffer;
  /** Request JSON → the shape handlers get (validated, oneof fields set), as gRPC requests look. */
  normalizeRequest(json: unknown): unknown;
  /** Handler result → JSON-ready object with every field. */
  toJson(message: unknown): unknown;
}

/** The methods of `sluice.public.Api` as declared in proto/public.proto. */
export function loadMethods(): Map<string, MethodCodec> {
  const grpcDef = protoLoader.loadSync(PUBLIC_PROTO, LOADER_OPTIONS)[PUBLIC_SERVICE] as protoLoader.ServiceDefinition;
  const jsonDef = protoLoader.loadSync(PUBLIC_PROTO, { ...LOADER_OPTIONS, defaults: true })[PUBLIC_SERVICE] as protoLoader.ServiceDefinition;
  const methods = new Map<string, MethodCodec>();
  for (const [name, method] of Object.entries(grpcDef)) {
    const json = jsonDef[name] as protoLoader.MethodDefinition<unknown, unknown>;
    methods.set(name, {
      name,
      stream: method.responseStream,
      decode: (bytes) => method.requestDeserialize(bytes),
      encode: (message) => method.responseSerialize(message as object),
      normalizeRequest: (body) => method.requestDeserialize(method.requestSerialize(body as object)),
      toJson: (message) => json.responseDeserialize(method.responseSerialize(message as object)),
    });
  }
  return methods;
}

export interface PublicApiServer {
  readonly address: HostPort;
  close(): Promise<void>;
}

/** Listens on `addr` and serves `registry`'s handlers until closed. */
export async function startPublicApiServer(registry: PublicApiRegistry, addr: HostPort, log: Logger): Promise<PublicApiServer> {
  const methods = loadMethods();
  const dispatcher = new Dispatcher(registry, methods, log);
  const httpServer = http.createServer((req, res) => void dispatcher.json(http1Exchange(req, res)));
  httpServer.on('clientError', (_error, socket) => socket.destroy());
  const h2Server = http2.createServer();
  const sessions = new Set<http2.ServerHttp2Session>();
  h2Server.on('session', (session) => {
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
    session.on('error', () => session.destroy());
  });
  h2Server.on('stream', (stream, headers) => {
    stream.on('error', () => stream.destroy());
    const contentType = String(headers['content-type'] ?? '');
    if (contentType.startsWith('application/grpc')) void dispatcher.grpc(stream, headers);
    else void dispatcher.json(h2Exchange(stream, headers));
  });

  const sockets = new Set<net.Socket>();
  const listener = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    detectAndServe(socket, httpServer, h2Server);
  });
  const bound = await new Promise<HostPort>((resolve, reject) => {
    listener.once('error', reject);
    listener.listen({ host: addr.host, port: addr.port }, () => {
      listener.removeListener('error', reject);
      resolve({ host: addr.host, port: (listener.address() as net.AddressInfo).port });
    });
  });
  log.debug('public API listening', { addr: formatHostPort(bound) });
  return {
    address: bound,
    close: async () => {
      await new Promise<void>((resolve) => {
        listener.close(() => resolve());
        for (const session of sessions) session.close();
        httpServer.closeAllConnections();
        for (const socket of sockets) socket.destroy();
      });
    },
  };
}

function detectAndServe(socket: net.Socket, httpServer: http.Server, h2Server: http2.Http2Server): void {
  let buffered: Buffer | undefined;
  let decided = false;
  const finish = (kind: 'http1' | 'h2' | 'none'): void => {
    if (decided) return;
    decided = true;
    clearTimeout(timer);
    socket.removeListener('data', onData);
    socket.removeListener('end', onEnd);
    socket.pause();
    if (buffered !== undefined) socket.unshift(buffered);
    if (kind === 'h2') {
      h2Server.emit('connection', socket);
    } else if (kind === 'http1') {
      httpServer.emit('connection', socket);
      socket.resume();
    } else {
      socket.destroy();
    }
  };
  const onData = (chunk: Buffer): void => {
    buffered = buffered === undefined ? chunk : Buffer.concat([buffered, chunk]);
    const detected = detectProtocol(buffered);
    if (detected.kind === 'http1' || detected.kind === 'h2') finish(detected.kind);
    else if (detected.kind !== 'need-more' || buffered.length >= DETECT_MAX_BYTES) finish('none');
  };
  const onEnd = (): void => finish('none');
  const timer = setTimeout(() => finish('none'), DETECT_TIMEOUT_MS);
  socket.on('data', onData);
  socket.on('end', onEnd);
}

/** One HTTP/JSON request, whichever HTTP version carried it. */
interface JsonExchange {
  readonly method: string;
  readonly path: string;
  /** The caller's `authorization` header (tap authorization in Kubernetes reads it). */
  readonly authorization: string | undefined;
  readBody(limit: number): Promise<Buffer>;
  start(status: number, contentType: string): void;
  write(text: string): boolean;
  end(text?: string): void;
  /** Bytes written but not yet sent. */
  buffered(): number;
  readonly closed: AbortSignal;
}

function http1Exchange(req: http.IncomingMessage, res: http.ServerResponse): JsonExchange {
  const closed = new AbortController();
  res.on('close', () => closed.abort());
  return {
    method: req.method ?? 'GET',
    path: req.url ?? '/',
    authorization: headerText(req.headers['authorization']),
    readBody: (limit) => readAll(req, limit),
    start: (status, contentType) => res.writeHead(status, { 'content-type': contentType }),
    write: (text) => res.write(text),
    end: (text) => (text === undefined ? res.end() : res.end(text)),
    buffered: () => res.writableLength,
    closed: closed.signal,
  };
}

function h2Exchange(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): JsonExchange {
  const closed = new AbortController();
  stream.on('close', () => closed.abort());
  return {
    method: String(headers[':method'] ?? 'GET'),
    path: String(headers[':path'] ?? '/'),
    authorization: headerText(headers['authorization']),
    readBody: (limit) => readAll(stream, limit),
    start: (status, contentType) => stream.respond({ ':status': status, 'content-type': contentType }),
    write: (text) => stream.write(text),
    end: (text) => (text === undefined ? stream.end() : stream.end(text)),
    buffered: () => stream.writableLength,
    closed: closed.signal,
  };
}

function headerText(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function readAll(source: NodeJS.ReadableStream & { destroy?: () => void }, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    source.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new ApiError(GrpcStatus.RESOURCE_EXHAUSTED, `request larger than ${limit} bytes`));
        source.removeAllListeners('data');
        source.resume();
        return;
      }
      chunks.push(chunk);
    });
    source.on('end', () => resolve(Buffer.concat(chunks)));
    source.on('error', reject);
  });
}

/** `grpc-timeout` (RFC: 1–8 digits and a unit) in milliseconds, or undefined. */
export function parseGrpcTimeout(value: string | undefined): number | undefined {
  const match = value === undefined ? null : /^(\d{1,8})([HMSmun])$/.exec(value);
  if (match === null) return undefined;
  const n = Number(match[1]);
  const unitMs: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 };
  return Math.ceil(n * (unitMs[match[2] as string] as number));
}

/** grpc-message is percent-encoded outside printable ASCII. */
function encodeGrpcMessage(message: string): string {
  return Buffer.from(message, 'utf8').reduce((out, byte) => {
    return out + (byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`);
  }, '');
}

function frame(message: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.writeUInt32BE(message.length, 1);
  return Buffer.concat([header, message]);
}

function jsonReplacer(_key: string, value: unknown): unknown {
  if (value !== null && typeof value === 'object' && (value as { type?: unknown }).type === 'Buffer' && Array.isArray((value as { data?: unknown }).data)) {
    return Buffer.from((value as { data: number[] }).data).toString('base64');
  }
  return value;
}

class Dispatcher {
  private readonly registry: PublicApiRegistry;
  private readonly methods: Map<string, MethodCodec>;
  private readonly log: Logger;

  constructor(registry: PublicApiRegistry, methods: Map<string, MethodCodec>, log: Logger) {
    this.registry = registry;
    this.methods = methods;
    this.log = log;
  }

  async grpc(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): Promise<void> {
    const path = String(headers[':path'] ?? '');
    const slash = path.lastIndexOf('/');
    const service = path.slice(1, slash);
    const name = path.slice(slash + 1);
    const method = service === PUBLIC_SERVICE ? this.methods.get(name) : undefined;
    const trailersOnly = (code: number, message: string): void => {
      if (stream.destroyed || stream.headersSent) return;
      stream.respond({ ':status': 200, 'content-type': 'application/grpc+proto', 'grpc-status': String(code), 'grpc-message': encodeGrpcMessage(message) }, { endStream: true });
    };
    if (method === undefined) {
      stream.resume();
      trailersOnly(GrpcStatus.UNIMPLEMENTED, `unknown method ${path}`);
      return;
    }
    let request: unknown;
    try {
      const body = await readAll(stream, MAX_REQUEST_BYTES);
      if (body.length < 5) throw new ApiError(GrpcStatus.INVALID_ARGUMENT, 'expected one request message');
      if (body[0] !== 0) throw new ApiError(GrpcStatus.UNIMPLEMENTED, 'compressed messages are not supported');
      const length = body.readUInt32BE(1);
      if (body.length !== 5 + length) throw new ApiError(GrpcStatus.INVALID_ARGUMENT, 'expected exactly one request message');
      request = method.decode(body.subarray(5));
    } catch (error) {
      const { code, message } = error instanceof ApiError ? error : { code: GrpcStatus.INVALID_ARGUMENT, message: `cannot decode the request: ${(error as Error).message}` };
      trailersOnly(code, message);
      return;
    }
    const unary = method.stream ? undefined : this.registry.unary.get(name);
    const streaming = method.stream ? this.registry.streams.get(name) : undefined;
    if (unary === undefined && streaming === undefined) {
      trailersOnly(GrpcStatus.UNIMPLEMENTED, `${name} is not served by this controller`);
      return;
    }

    const abort = new AbortController();
    const onClose = (): void => abort.abort();
    stream.on('close', onClose);
    const timeoutMs = parseGrpcTimeout(headers['grpc-timeout'] as string | undefined);
    let timedOut = false;
    const timer =
      timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            abort.abort();
          }, timeoutMs);
    let status: { code: number; message: string } = { code: GrpcStatus.OK, message: '' };
    const begin = (): void => {
      if (stream.headersSent || stream.destroyed) return;
      stream.respond({ ':status': 200, 'content-type': 'application/grpc+proto' }, { waitForTrailers: true });
      stream.once('wantTrailers', () => {
        const trailers: http2.OutgoingHttpHeaders = { 'grpc-status': String(status.code) };
        if (status.message !== '') trailers['grpc-message'] = encodeGrpcMessage(status.message);
        stream.sendTrailers(trailers);
      });
    };
    try {
      if (unary !== undefined) {
        const response = await race(unary(request), abort.signal);
        const bytes = frame(method.encode(response));
        begin();
        if (!stream.destroyed) stream.end(bytes);
        return;
      }
      begin();
      await (streaming as NonNullable<typeof streaming>)(
        request,
        (message) => {
          if (stream.destroyed || abort.signal.aborted) return;
          stream.write(frame(method.encode(message)));
          if (stream.writableLength > MAX_BUFFERED_BYTES) {
            status = { code: GrpcStatus.RESOURCE_EXHAUSTED, message: 'client reads too slowly' };
            abort.abort();
          }
        },
        abort.signal,
        { authorization: headerText(headers['authorization']) },
      );
      if (timedOut) status = { code: GrpcStatus.DEADLINE_EXCEEDED, message: 'deadline exceeded' };
      if (!stream.destroyed) stream.end();
    } catch (error) {
      status = timedOut ? { code: GrpcStatus.DEADLINE_EXCEEDED, message: 'deadline exceeded' } : statusOf(error);
      if (status.code === GrpcStatus.INTERNAL) this.log.warn('public API handler failed', { method: name, error: status.message });
      if (!stream.headersSent) trailersOnly(status.code, status.message);
      else if (!stream.destroyed) stream.end();
    } finally {
      clearTimeout(timer);
      stream.removeListener('close', onClose);
    }
  }

  async json(exchange: JsonExchange): Promise<void> {
    const url = new URL(exchange.path, 'http://api');
    const fail = (code: number, message: string): void => {
      exchange.start(httpStatusOf(code), 'application/json');
      exchange.end(`${JSON.stringify({ error: message, code })}\n`);
    };
    if (url.pathname === '/ping') {
      exchange.start(200, 'text/plain');
      exchange.end('pong\n');
      return;
    }
    const match = /^\/api\/v1\/([A-Za-z][A-Za-z0-9]*)$/.exec(url.pathname);
    if (match === null) {
      fail(GrpcStatus.NOT_FOUND, `no such path ${url.pathname}; methods are POST /api/v1/<Method>`);
      return;
    }
    if (exchange.method !== 'POST' && exchange.method !== 'GET') {
      fail(GrpcStatus.UNIMPLEMENTED, `use POST /api/v1/${match[1]}`);
      return;
    }
    const name = match[1] as string;
    const method = this.methods.get(name);
    const unary = this.registry.unary.get(name);
    const streaming = this.registry.streams.get(name);
    if (unary === undefined && streaming === undefined) {
      fail(method === undefined ? GrpcStatus.NOT_FOUND : GrpcStatus.UNIMPLEMENTED, method === undefined ? `unknown method ${name}` : `${name} is not served by this controller`);
      return;
    }
    let request: unknown;
    try {
      const body = await exchange.readBody(MAX_REQUEST_BYTES);
      const text = body.toString('utf8').trim();
      const parsed: unknown = text === '' ? {} : JSON.parse(text);
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new ApiError(GrpcStatus.INVALID_ARGUMENT, 'the request body must be a JSON object');
      request = method === undefined ? parsed : method.normalizeRequest(parsed);
    } catch (error) {
      fail(error instanceof ApiError ? error.code : GrpcStatus.INVALID_ARGUMENT, error instanceof ApiError ? error.message : `invalid request: ${(error as Error).message}`);
      return;
    }
    const toJson = (message: unknown): string => JSON.stringify(method === undefined ? message : method.toJson(message), jsonReplacer);
    if (unary !== undefined) {
      try {
        const response = await race(unary(request), exchange.closed);
        if (exchange.closed.aborted) return;
        exchange.start(200, 'application/json');
        exchange.end(`${toJson(response)}\n`);
      } catch (error) {
        if (exchange.closed.aborted) return;
        const status = statusOf(error);
        if (status.code === GrpcStatus.INTERNAL) this.log.warn('public API handler failed', { method: name, error: status.message });
        fail(status.code, status.message);
      }
      return;
    }
    const abort = new AbortController();
    exchange.closed.addEventListener('abort', () => abort.abort(), { once: true });
    exchange.start(200, 'application/x-ndjson');
    try {
      await (streaming as NonNullable<typeof streaming>)(
        request,
        (message) => {
          if (abort.signal.aborted) return;
          exchange.write(`${toJson(message)}\n`);
          if (exchange.buffered() > MAX_BUFFERED_BYTES) abort.abort();
        },
        abort.signal,
        { authorization: exchange.authorization },
      );
      if (!exchange.closed.aborted) exchange.end();
    } catch (error) {
      if (exchange.closed.aborted) return;
      const status = statusOf(error);
      exchange.end(`${JSON.stringify({ error: status.message, code: status.code })}\n`);
    }
  }
}

/** Settles with `promise`, or rejects with CANCELLED once `signal` aborts. */
function race<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new ApiError(GrpcStatus.CANCELLED, 'cancelled'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new ApiError(GrpcStatus.CANCELLED, 'cancelled'));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
