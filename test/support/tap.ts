// A plain @grpc/grpc-js client of a proxy's Tap server (io.linkerd.proxy.tap.Tap/Observe), loaded from
// proto/tap.proto on its own, for tests: start a call, collect its events, wait for its end.
import http2 from 'node:http2';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { HostPort } from '../../src/config/parse.ts';

const PROTO_DIR = fileURLToPath(new URL('../../proto/', import.meta.url));

const definition = protoLoader.loadSync('tap.proto', {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: false,
  oneofs: true,
  includeDirs: [PROTO_DIR],
});
const Tap = ((((grpc.loadPackageDefinition(definition)['io'] as grpc.GrpcObject)['linkerd'] as grpc.GrpcObject)['proxy'] as grpc.GrpcObject)['tap'] as grpc.GrpcObject)[
  'Tap'
] as grpc.ServiceClientConstructor;

/** A decoded TapEvent, loosely typed (snake_case fields, oneof names in virtual fields). */
export type Event = Record<string, any>;

export interface TapCall {
  readonly call: grpc.ClientReadableStream<Event>;
  readonly events: Event[];
  /** Resolves with the call's status when it ends (OK, CANCELLED, an error …). */
  readonly ended: Promise<grpc.StatusObject>;
  /** Resolves once at least `n` events have arrived (rejects after `timeoutMs`). */
  waitFor(n: number, timeoutMs?: number): Promise<void>;
  close(): void;
}

export function tapClient(addr: HostPort): grpc.Client {
  return new Tap(`${addr.host}:${addr.port}`, grpc.credentials.createInsecure());
}

/** Starts Observe; with `read: false` nothing is read (a slow consumer). */
export function observe(client: grpc.Client, request: object, options: { read?: boolean } = {}): TapCall {
  const call = (client as unknown as { Observe(request: object): grpc.ClientReadableStream<Event> }).Observe(request);
  const events: Event[] = [];
  let waiters: Array<() => void> = [];
  const ended = new Promise<grpc.StatusObject>((resolve) => {
    call.on('status', (status: grpc.StatusObject) => resolve(status));
  });
  call.on('error', () => {});
  if (options.read !== false) {
    call.on('data', (event: Event) => {
      events.push(event);
      const pending = waiters;
      waiters = [];
      for (const wake of pending) wake();
    });
  }
  const waitFor = async (n: number, timeoutMs = 10_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    while (events.length < n) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${n} tap events; got ${events.length}: ${JSON.stringify(events)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  };
  return { call, events, ended, waitFor, close: () => call.cancel() };
}

/** Which event a TapEvent carries: request_init, response_init or response_end. */
export function kindOf(event: Event): string {
  return String(event['http']?.['event']);
}

export function bodyOf(event: Event): Event {
  const http = event['http'] as Event;
  return http[String(http['event'])] as Event;
}

/** Calls `send` repeatedly (awaiting each) until `done()` is true; for taps, whose install is asynchronous. */
export async function keepSending(send: () => Promise<unknown>, done: () => boolean, timeoutMs = 15_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let sent = 0;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`still not done after ${sent} requests`);
    await send();
    sent++;
    // Give the tap's events a turn to arrive before deciding to send more.
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return sent;
}

/**
 * Observe over a bare HTTP/2 stream that is never read: a caller slower than any traffic. (A grpc-js
 * client keeps reading into memory whether or not the application reads, so it cannot play this part.)
 */
export function stalledObserve(addr: HostPort, request: object): { close(): void } {
  const type = definition['io.linkerd.proxy.tap.ObserveRequest'] as unknown as { serialize(value: object): Buffer };
  const message = type.serialize(request);
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt32BE(message.length, 1);
  message.copy(frame, 5);
  const session = http2.connect(`http://${addr.host}:${addr.port}`);
  session.on('error', () => {});
  const stream = session.request({
    ':method': 'POST',
    ':path': '/io.linkerd.proxy.tap.Tap/Observe',
    'content-type': 'application/grpc',
    te: 'trailers',
  });
  stream.on('error', () => {});
  stream.end(frame);
  // No 'data' listener: the stream stays paused, its window fills, and the server has to hold or drop.
  return { close: () => session.destroy() };
}
