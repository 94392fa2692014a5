// Loads the project's .proto files (in /proto) for @grpc/grpc-js. Every service and client uses this,
// so field naming and type mapping are the same everywhere:
//   - field names as written in the .proto (snake_case), so code reads like the wire tables;
//   - 64-bit integers as JS numbers (counts and durations here stay far below 2^53);
//   - enums as their names; oneofs get a virtual field naming the case that is set;
//   - google.protobuf.Duration as {seconds, nanos}.
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

export const PROTO_DIR = fileURLToPath(new URL('../../proto/', import.meta.url));

export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: false,
  oneofs: true,
  includeDirs: [PROTO_DIR],
};

const cache = new Map<string, grpc.GrpcObject>();

/** The grpc-js package object for a file under proto/ (e.g. `destination.proto`). */
export function loadProto(file: string): grpc.GrpcObject {
  let loaded = cache.get(file);
  if (loaded === undefined) {
    loaded = grpc.loadPackageDefinition(protoLoader.loadSync(file, LOADER_OPTIONS));
    cache.set(file, loaded);
  }
  return loaded;
}

/** Walks a dotted name (`io.linkerd.proxy.destination.Destination`) inside a loaded package. */
export function lookup<T>(root: grpc.GrpcObject, dotted: string): T {
  let node: unknown = root;
  for (const part of dotted.split('.')) {
    node = (node as Record<string, unknown> | undefined)?.[part];
    if (node === undefined) throw new Error(`${dotted} is not in the loaded protos`);
  }
  return node as T;
}

export interface Duration {
  seconds?: number;
  nanos?: number;
}

export function durationToMs(d: Duration | null | undefined): number | undefined {
  if (d === null || d === undefined) return undefined;
  return (d.seconds ?? 0) * 1000 + Math.round((d.nanos ?? 0) / 1e6);
}

export function msToDuration(ms: number): Duration {
  const seconds = Math.floor(ms / 1000);
  return { seconds, nanos: Math.round((ms - seconds * 1000) * 1e6) };
}
