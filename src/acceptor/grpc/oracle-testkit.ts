// Test support: protobufjs, loaded from the project's .proto files with proto-loader's conversions
// (src/api/proto.ts), as the oracle our codec is checked against — and fast-check arbitraries that
// build random messages, in proto-loader's object shape, from our own field tables.
import path from 'node:path';
import fc from 'fast-check';
import protobuf from 'protobufjs';
import { PROTO_DIR } from '../../api/proto.ts';
import type { FieldSpec, MessageSpec } from './protobuf-schema.ts';

let root: protobuf.Root | undefined;

export function oracleRoot(): protobuf.Root {
  if (root === undefined) {
    root = new protobuf.Root();
    // google/protobuf/*.proto come with protobufjs; the rest from proto/.
    root.resolvePath = (_origin, target) => (target.startsWith('google/') ? target : path.join(PROTO_DIR, target));
    root.loadSync(['destination.proto', 'telemetry.proto', 'identity.proto', 'inbound.proto'], { keepCase: true });
  }
  return root;
}

export function oracleType(spec: MessageSpec): protobuf.Type {
  return oracleRoot().lookupType(spec.name);
}

/** What grpc-js sends for `value` (proto-loader's serializer). */
export function oracleEncode(spec: MessageSpec, value: object): Buffer {
  const type = oracleType(spec);
  return Buffer.from(type.encode(type.fromObject(value)).finish());
}

/** What grpc-js hands over for `bytes` (proto-loader's deserializer with the project's options). */
export function oracleDecode(spec: MessageSpec, bytes: Buffer, longs: 'string' | 'number'): Record<string, unknown> {
  const type = oracleType(spec);
  return type.toObject(type.decode(bytes), { longs: longs === 'string' ? String : Number, enums: String, defaults: false, oneofs: true }) as Record<string, unknown>;
}

const text = fc.string({ unit: 'grapheme', maxLength: 6 });

function scalar(f: FieldSpec, longs: 'string' | 'number'): fc.Arbitrary<unknown> {
  switch (f.type) {
    case 'string':
      return text;
    case 'bytes':
      return fc.uint8Array({ maxLength: 8 }).map((a) => Buffer.from(a));
    case 'bool':
      return fc.boolean();
    case 'uint32':
    case 'fixed32':
      return fc.integer({ min: 0, max: 0xffffffff });
    case 'int32':
      return fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
    case 'float':
      return fc.float();
    case 'double':
      return fc.double();
    case 'uint64':
    case 'fixed64':
      return longs === 'string' ? fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(String) : fc.maxSafeNat();
    case 'int64':
      return longs === 'string' ? fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(String) : fc.maxSafeInteger();
    case 'enum':
      return fc.constantFrom(...(f.enumNames as readonly string[]));
    case 'map':
      return fc
        .dictionary(text.filter((k) => k !== '__proto__'), text, { minKeys: 1, maxKeys: 3 })
        .map((d) => Object.fromEntries(Object.entries(d)));
    case 'message':
      throw new Error('messages are built by messageArbitrary');
  }
}

/**
 * Random messages of `spec` as proto-loader would hand them over: only fields present, at most one
 * member per oneof with its case named, no empty repeated fields. Nesting stops at `depth`.
 */
export function messageArbitrary(spec: MessageSpec, longs: 'string' | 'number', depth = 4): fc.Arbitrary<Record<string, unknown>> {
  const valueOf = (f: FieldSpec): fc.Arbitrary<unknown> | undefined => {
    if (f.type === 'message') return depth <= 0 ? undefined : messageArbitrary((f.message as () => MessageSpec)(), longs, depth - 1);
    return scalar(f, longs);
  };
  const plain: Record<string, fc.Arbitrary<unknown>> = {};
  for (const f of spec.fields) {
    if (f.oneof !== undefined) continue;
    const value = valueOf(f);
    if (value !== undefined) plain[f.name] = f.repeated ? fc.array(value, { minLength: 1, maxLength: 3 }) : value;
  }
  const oneofs = [...spec.oneofs].map(([name, members]) => {
    const choices = members.flatMap((m) => {
      const value = valueOf(m);
      return value === undefined ? [] : [value.map((v) => ({ [m.name]: v, [name]: m.name }))];
    });
    return choices.length === 0 ? fc.constant({}) : fc.option(fc.oneof(...choices), { nil: undefined }).map((v) => v ?? {});
  });
  return fc.tuple(fc.record(plain, { requiredKeys: [] }), ...oneofs).map(([fields, ...chosen]) => Object.assign({}, fields, ...chosen) as Record<string, unknown>);
}
