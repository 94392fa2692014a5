// The public API's one port: a real grpc-js client (unary and server stream, errors, cancellation) and
// HTTP/JSON over HTTP/1.1 and HTTP/2 (unary, NDJSON streams, errors), against registered handlers.
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { loadProto, lookup } from '../../api/proto.ts';
import { Logger } from '../../log/logger.ts';
import { PublicApiRegistry } from '../context.ts';
import { ApiError, GrpcStatus } from './errors.ts';
import { parseGrpcTimeout, startPublicApiServer, type PublicApiServer } from './server.ts';

const TAP_EVENT = (n: number) => ({ proxy_direction: 'INBOUND', http: { request_init: { id: { base: 7, stream: n }, authority: 'web:80', path: `/${n}` } } });

describe('public API server', () => {
  let server: PublicApiServer;
  let address: string;
  let client: grpc.Client & Record<string, (...args: unknown[]) => unknown>;
  const cancelled: string[] = [];

  before(async () => {
    const registry = new PublicApiRegistry();
    registry.addUnary('Version', async () => ({ goVersion: 'v24', buildDate: '', releaseVersion: '9.9.9' }));
    registry.addUnary('ListPods', async (request) => {
      const namespace = (request as { namespace?: string }).namespace ?? '';
      if (namespace === 'missing') throw new ApiError(GrpcStatus.NOT_FOUND, 'no namespace "missing"');
      if (namespace === 'boom') throw new Error('handler broke');
      return { pods: [{ name: `${namespace}/web-1`, added: true }] };
    });
    registry.addStream('TapByResource', async (request, emit, signal) => {
      const max = (request as { maxRps?: number }).maxRps ?? 3;
      for (let n = 1; n <= max; n++) emit(TAP_EVENT(n));
      if (max >= 100) {
        // Runs until the client goes away.
        await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
        cancelled.push('TapByResource');
      }
    });
    server = await startPublicApiServer(registry, { host: '127.0.0.1', port: 0 }, new Logger('error', 'plain', 'test', () => {}));
    address = `127.0.0.1:${server.address.port}`;
    const Client = lookup<grpc.ServiceClientConstructor>(loadProto('public.proto'), 'sluice.public.Api');
    client = new Client(address, grpc.credentials.createInsecure()) as unknown as typeof client;
  });

  after(async () => {
    client.close();
    await server.close();
  });

  const unary = (method: string, request: object, options: grpc.CallOptions = {}): Promise<unknown> =>
    new Promise((resolve, reject) => {
      (client[method] as (r: object, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, v: unknown) => void) => void).call(client, request, options, (error, value) =>
        error === null ? resolve(value) : reject(error),
      );
    });

  it('serves a unary call to grpc-js', async () => {
    assert.deepEqual(await unary('Version', {}), { goVersion: 'v24', buildDate: '', releaseVersion: '9.9.9' });
    assert.deepEqual(await unary('ListPods', { namespace: 'shop' }), { pods: [{ name: 'shop/web-1', added: true }] });
  });

  it('serves a server stream to grpc-js', async () => {
    const call = (client['TapByResource'] as (r: object) => grpc.ClientReadableStream<unknown>).call(client, { maxRps: 3 });
    const events: unknown[] = [];
    for await (const event of call) events.push(event);
    assert.equal(events.length, 3);
    assert.deepEqual((events[2] as { http?: { request_init?: { path?: string } } }).http?.request_init?.path, '/3');
  });

  it('tells a streaming handler when the grpc-js client cancels', async () => {
    const call = (client['TapByResource'] as (r: object) => grpc.ClientReadableStream<unknown>).call(client, { maxRps: 100 });
    let received = 0;
    await new Promise<void>((resolve) => {
      call.on('data', () => {
        if (++received === 100) {
          call.cancel();
          resolve();
        }
      });
    });
    call.on('error', () => {});
    for (let i = 0; i < 100 && cancelled.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(cancelled, ['TapByResource']);
  });

  it('sends handler errors as gRPC statuses', async () => {
    await assert.rejects(unary('ListPods', { namespace: 'missing' }), (error: grpc.ServiceError) => {
      assert.equal(error.code, grpc.status.NOT_FOUND);
      assert.equal(error.details, 'no namespace "missing"');
      return true;
    });
    await assert.rejects(unary('ListPods', { namespace: 'boom' }), (error: grpc.ServiceError) => error.code === grpc.status.INTERNAL && error.details === 'handler broke');
    // Declared in public.proto, but nobody registered it.
    await assert.rejects(unary('SelfCheck', {}), (error: grpc.ServiceError) => error.code === grpc.status.UNIMPLEMENTED);
  });

  it('answers an unknown gRPC method with UNIMPLEMENTED', async () => {
    const Other = grpc.makeGenericClientConstructor(
      { Nope: { path: '/sluice.public.Api/Nope', requestStream: false, responseStream: false, requestSerialize: (v: Buffer) => v, requestDeserialize: (v: Buffer) => v, responseSerialize: (v: Buffer) => v, responseDeserialize: (v: Buffer) => v } },
      'Other',
    );
    const other = new Other(address, grpc.credentials.createInsecure()) as unknown as Record<string, (...args: unknown[]) => void> & grpc.Client;
    const error = await new Promise<grpc.ServiceError>((resolve) => other['Nope']?.call(other, Buffer.alloc(0), (e: grpc.ServiceError) => resolve(e)));
    assert.equal(error.code, grpc.status.UNIMPLEMENTED);
    other.close();
  });

  it('serves unary methods as HTTP/JSON, every field present', async () => {
    const response = await fetch(`http://${address}/api/v1/ListPods`, { method: 'POST', body: JSON.stringify({ namespace: 'shop' }) });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /application\/json/);
    const body = (await response.json()) as { pods: Array<Record<string, unknown>> };
    assert.equal(body.pods[0]?.['name'], 'shop/web-1');
    assert.equal(body.pods[0]?.['podIP'], '');
    assert.equal(body.pods[0]?.['sinceLastReport'], null);
    // GET works for a request without fields.
    assert.deepEqual(await (await fetch(`http://${address}/api/v1/Version`)).json(), { goVersion: 'v24', buildDate: '', releaseVersion: '9.9.9' });
  });

  it('serves streams as newline-delimited JSON', async () => {
    const response = await fetch(`http://${address}/api/v1/TapByResource`, { method: 'POST', body: '{"maxRps": 2}' });
    assert.equal(response.headers.get('content-type'), 'application/x-ndjson');
    const lines = (await response.text()).trim().split('\n').map((line) => JSON.parse(line) as { http: { request_init: { path: string } } });
    assert.deepEqual(lines.map((l) => l.http.request_init.path), ['/1', '/2']);
  });

  it('maps errors to HTTP statuses with a JSON body', async () => {
    const call = async (path: string, body: string): Promise<[number, unknown]> => {
      const response = await fetch(`http://${address}${path}`, { method: 'POST', body });
      return [response.status, await response.json()];
    };
    assert.deepEqual(await call('/api/v1/ListPods', '{"namespace":"missing"}'), [404, { error: 'no namespace "missing"', code: 5 }]);
    assert.deepEqual(await call('/api/v1/ListPods', '{"namespace":"boom"}'), [500, { error: 'handler broke', code: 13 }]);
    assert.equal((await call('/api/v1/ListPods', '{not json'))[0], 400);
    assert.equal((await call('/api/v1/ListPods', '[1]'))[0], 400);
    assert.deepEqual(await call('/api/v1/Nope', '{}'), [404, { error: 'unknown method Nope', code: 5 }]);
    assert.equal((await call('/api/v1/SelfCheck', '{}'))[0], 501);
    assert.equal((await call('/elsewhere', '{}'))[0], 404);
  });

  it('serves HTTP/JSON over HTTP/2 on the same port', async () => {
    const session = http2.connect(`http://${address}`);
    try {
      const stream = session.request({ ':method': 'POST', ':path': '/api/v1/ListPods', 'content-type': 'application/json' });
      stream.end('{"namespace":"h2"}');
      let status = 0;
      stream.on('response', (headers) => (status = Number(headers[':status'])));
      let text = '';
      stream.setEncoding('utf8');
      for await (const chunk of stream) text += chunk as string;
      assert.equal(status, 200);
      assert.equal((JSON.parse(text) as { pods: Array<{ name: string }> }).pods[0]?.name, 'h2/web-1');
    } finally {
      session.close();
    }
  });

  it('closes connections that speak neither HTTP/1 nor HTTP/2', async () => {
    const socket = net.connect(server.address.port, '127.0.0.1');
    socket.write('\x16\x03\x01\x00\x05hello'); // a TLS record: not served here
    socket.on('error', () => {});
    await new Promise((resolve) => socket.on('close', resolve));
  });

  it('reads grpc-timeout values', () => {
    assert.equal(parseGrpcTimeout('5S'), 5000);
    assert.equal(parseGrpcTimeout('250m'), 250);
    assert.equal(parseGrpcTimeout('1500u'), 2);
    assert.equal(parseGrpcTimeout('2H'), 7_200_000);
    assert.equal(parseGrpcTimeout('nope'), undefined);
    assert.equal(parseGrpcTimeout(undefined), undefined);
  });
});
