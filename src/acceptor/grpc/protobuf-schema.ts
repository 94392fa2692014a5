// Messages described as small field tables, and ONE decoder and ONE encoder that follow them, producing
// and taking exactly the plain objects @grpc/proto-loader produces with the project's options
// (src/api/proto.ts: snake_case names as in the .proto, enums as names, a virtual field naming each
// oneof's case, fields absent from the wire absent from the object, 64-bit integers as strings or
// numbers as asked). So the code that consumed proto-loader's objects reads ours unchanged, and the
// tables are checked field by field against the .proto files (protobuf-schema.test.ts) instead of being
// trusted. Why tables rather than a function per message: two dozen messages share every rule, and a
// rule written once (unknown fields, packed repeats, oneofs, maps) is a rule tested once. Pure.
import { MAX_NESTING, ProtoDecodeError, ProtoReader, ProtoWriter, WireType, toUint64Bits } from './protobuf-wire.ts';

export type ScalarType = 'string' | 'bytes' | 'bool' | 'uint32' | 'int32' | 'fixed32' | 'float' | 'double' | 'uint64' | 'int64' | 'fixed64';
/** `map` is map<string, string>: the only map type the control-plane protos use. */
export type FieldType = ScalarType | 'enum' | 'message' | 'map';

export interface FieldSpec {
  readonly number: number;
  readonly name: string;
  readonly type: FieldType;
  readonly repeated: boolean;
  readonly oneof: string | undefined;
  /** For `message` fields; a function, so that messages can refer to themselves (RequestMatch.not). */
  readonly message: (() => MessageSpec) | undefined;
  /** For `enum` fields: the value names, by number (the enums used are dense from 0). */
  readonly enumNames: readonly string[] | undefined;
}

export interface MessageSpec {
  /** Fully qualified, as in the .proto (`io.linkerd.proxy.destination.Update`). */
  readonly name: string;
  /** In field-number order: the order protobufjs writes them in, so our bytes match its bytes. */
  readonly fields: readonly FieldSpec[];
  readonly byNumber: ReadonlyMap<number, FieldSpec>;
  readonly oneofs: ReadonlyMap<string, readonly FieldSpec[]>;
}

export interface FieldOptions {
  readonly repeated?: boolean;
  readonly oneof?: string;
  readonly message?: () => MessageSpec;
  readonly enumNames?: readonly string[];
}

export function field(number: number, name: string, type: FieldType, options: FieldOptions = {}): FieldSpec {
  if (type === 'message' && options.message === undefined) throw new Error(`${name}: a message field needs its message`);
  if (type === 'enum' && options.enumNames === undefined) throw new Error(`${name}: an enum field needs its names`);
  return { number, name, type, repeated: options.repeated === true, oneof: options.oneof, message: options.message, enumNames: options.enumNames };
}

export function message(name: string, fields: readonly FieldSpec[]): MessageSpec {
  const sorted = [...fields].sort((a, b) => a.number - b.number);
  const oneofs = new Map<string, FieldSpec[]>();
  for (const f of sorted) {
    if (f.oneof === undefined) continue;
    let members = oneofs.get(f.oneof);
    if (members === undefined) oneofs.set(f.oneof, (members = []));
    members.push(f);
  }
  return { name, fields: sorted, byNumber: new Map(sorted.map((f) => [f.number, f])), oneofs };
}

export interface DecodeOptions {
  /** 64-bit integers as decimal strings (`longs: String`: IPv6 halves need all 64 bits) or numbers. */
  readonly longs: 'string' | 'number';
}

export type Decoded = Record<string, unknown>;

/** Decodes one message; throws ProtoDecodeError when the bytes are not a valid encoding. */
export function decodeMessage(spec: MessageSpec, bytes: Buffer, options: DecodeOptions): Decoded {
  return decodeFrom(spec, new ProtoReader(bytes), options, 0);
}

/** Encodes one message from a proto-loader-shaped object; throws TypeError/RangeError on values that do not fit. */
export function encodeMessage(spec: MessageSpec, value: object): Buffer {
  const writer = new ProtoWriter();
  encodeInto(writer, spec, value as Record<string, unknown>, 0);
  return writer.finish();
}

function wireTypeOf(type: FieldType): number {
  switch (type) {
    case 'string':
    case 'bytes':
    case 'message':
    case 'map':
      return WireType.LEN;
    case 'fixed32':
    case 'float':
      return WireType.I32;
    case 'fixed64':
    case 'double':
      return WireType.I64;
    default:
      return WireType.VARINT;
  }
}

/** Numeric repeated fields are packed in proto3, and a reader must accept them packed or not. */
function packable(type: FieldType): boolean {
  return type !== 'string' && type !== 'bytes' && type !== 'message' && type !== 'map';
}

function decodeFrom(spec: MessageSpec, reader: ProtoReader, options: DecodeOptions, depth: number): Decoded {
  if (depth > MAX_NESTING) throw new ProtoDecodeError(`${spec.name}: messages nested too deeply`);
  const out: Decoded = {};
  while (!reader.done()) {
    const tag = reader.tag();
    const f = spec.byNumber.get(tag >>> 3);
    const wire = tag & 7;
    if (f === undefined) {
      reader.skip(tag);
      continue;
    }
    if (f.repeated && wire === WireType.LEN && packable(f.type)) {
      const list = listOf(out, f.name);
      const run = reader.sub();
      while (!run.done()) list.push(readValue(run, f, options, depth));
      continue;
    }
    // A known number with another wire type: a schema we disagree with. Kept out rather than misread,
    // as protobuf-go keeps such a field among the unknown ones.
    if (wire !== wireTypeOf(f.type)) {
      reader.skip(tag);
      continue;
    }
    if (f.type === 'map') {
      const [key, value] = readStringEntry(reader.sub());
      let map = out[f.name] as Record<string, string> | undefined;
      if (map === undefined) out[f.name] = map = {};
      map[key] = value;
    } else if (f.repeated) {
      listOf(out, f.name).push(readValue(reader, f, options, depth));
    } else {
      out[f.name] = readValue(reader, f, options, depth);
      if (f.oneof !== undefined) {
        // The last member seen wins; the others of its oneof are cleared.
        for (const other of spec.oneofs.get(f.oneof) ?? []) if (other !== f) delete out[other.name];
        out[f.oneof] = f.name;
      }
    }
  }
  // proto-loader leaves out repeated fields that came empty (a packed run of length 0).
  for (const f of spec.fields) if (f.repeated && (out[f.name] as unknown[] | undefined)?.length === 0) delete out[f.name];
  return out;
}

function listOf(out: Decoded, name: string): unknown[] {
  let list = out[name] as unknown[] | undefined;
  if (list === undefined) out[name] = list = [];
  return list;
}

/** A map<string, string> entry; a missing key or value is the empty string. */
function readStringEntry(reader: ProtoReader): [string, string] {
  let key = '';
  let value = '';
  while (!reader.done()) {
    const tag = reader.tag();
    if (tag === ((1 << 3) | WireType.LEN)) key = reader.string();
    else if (tag === ((2 << 3) | WireType.LEN)) value = reader.string();
    else reader.skip(tag);
  }
  return [key, value];
}

function readValue(reader: ProtoReader, f: FieldSpec, options: DecodeOptions, depth: number): unknown {
  switch (f.type) {
    case 'string':
      return reader.string();
    case 'bytes':
      return Buffer.from(reader.bytes());
    case 'bool':
      return reader.varint32() !== 0;
    case 'uint32':
      return reader.varint32();
    case 'int32':
      return reader.varint32() | 0;
    case 'fixed32':
      return reader.fixed32();
    case 'float':
      return reader.float();
    case 'double':
      return reader.double();
    case 'uint64':
      return long(reader.varint64(), options);
    case 'int64':
      return long(BigInt.asIntN(64, reader.varint64()), options);
    case 'fixed64':
      return long(reader.fixed64(), options);
    case 'enum': {
      const n = reader.varint32() | 0;
      return f.enumNames?.[n] ?? n;
    }
    case 'message':
      return decodeFrom((f.message as () => MessageSpec)(), reader.sub(), options, depth + 1);
    case 'map':
      throw new Error('unreachable: maps are read by entries');
  }
}

function long(value: bigint, options: DecodeOptions): string | number {
  return options.longs === 'string' ? value.toString() : Number(value);
}

function encodeInto(writer: ProtoWriter, spec: MessageSpec, value: Record<string, unknown>, depth: number): void {
  if (depth > MAX_NESTING) throw new RangeError(`${spec.name}: nested too deeply (a cycle?)`);
  // Index loops here and below: a message is often encoded by code not yet optimized (the telemetry
  // reporter's every 5 s), where `for…of` allocates an iterator result per item.
  const fields = spec.fields;
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i] as FieldSpec;
    encodeField(writer, spec, f, value[f.name], depth);
  }
}

/**
 * Writes one field of a `spec` message (`v`: its value in the object; nothing when undefined or null),
 * as encodeMessage writes it. For callers that write a message's fields themselves, in field-number
 * order, to spread a large message over several turns of the event loop (telemetry-report-encode.ts).
 */
export function encodeField(writer: ProtoWriter, spec: MessageSpec, f: FieldSpec, v: unknown, depth = 0): void {
  if (v === undefined || v === null) return;
  if (f.type === 'map') {
    if (typeof v !== 'object') throw new TypeError(`${spec.name}.${f.name}: object expected`);
    const map = v as Record<string, unknown>;
    const keys = Object.keys(map);
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i] as string;
      writer.tag(f.number, WireType.LEN);
      const start = writer.fork();
      writer.tag(1, WireType.LEN);
      writer.string(key);
      writer.tag(2, WireType.LEN);
      writer.string(String(map[key]));
      writer.join(start);
    }
  } else if (f.repeated) {
    if (!Array.isArray(v)) throw new TypeError(`${spec.name}.${f.name}: array expected`);
    if (v.length === 0) return;
    if (packable(f.type)) {
      writer.tag(f.number, WireType.LEN);
      const start = writer.fork();
      // uint32 runs (latency bucket counts, bucket bounds) are the long ones: written without the switch.
      if (f.type === 'uint32') for (let i = 0; i < v.length; i++) writer.varint32(Number(v[i]) >>> 0);
      else for (let i = 0; i < v.length; i++) writeValue(writer, spec, f, v[i], depth);
      writer.join(start);
    } else {
      for (let i = 0; i < v.length; i++) encodeRepeatedItem(writer, spec, f, v[i], depth);
    }
  } else {
    writer.tag(f.number, wireTypeOf(f.type));
    writeValue(writer, spec, f, v, depth);
  }
}

/** One item of a repeated field that is not packed (messages, strings, bytes): its tag, then it. */
export function encodeRepeatedItem(writer: ProtoWriter, spec: MessageSpec, f: FieldSpec, item: unknown, depth = 0): void {
  writer.tag(f.number, wireTypeOf(f.type));
  writeValue(writer, spec, f, item, depth);
}

/** One value, converted as protobufjs's `fromObject` converts it (so the bytes match). */
function writeValue(writer: ProtoWriter, spec: MessageSpec, f: FieldSpec, v: unknown, depth: number): void {
  switch (f.type) {
    case 'string':
      return writer.string(String(v));
    case 'bytes':
      return writer.bytes(typeof v === 'string' ? Buffer.from(v, 'base64') : (v as Uint8Array));
    case 'bool':
      return writer.varint32(v ? 1 : 0);
    case 'uint32':
      return writer.varint32(Number(v) >>> 0);
    case 'int32':
      return writer.int32(Number(v) | 0);
    case 'fixed32':
      return writer.fixed32(Number(v) >>> 0);
    case 'float':
      return writer.float(Number(v));
    case 'double':
      return writer.double(Number(v));
    case 'uint64':
    case 'int64':
      return writer.varint64(toUint64Bits(v as number | string | bigint));
    case 'fixed64':
      return writer.fixed64(toUint64Bits(v as number | string | bigint));
    case 'enum': {
      const n = typeof v === 'number' ? v | 0 : (f.enumNames as readonly string[]).indexOf(String(v));
      if (n === -1) throw new RangeError(`${spec.name}.${f.name}: no enum value named ${JSON.stringify(v)}`);
      return writer.int32(n);
    }
    case 'message': {
      if (typeof v !== 'object' || v === null) throw new TypeError(`${spec.name}.${f.name}: object expected`);
      const start = writer.fork();
      encodeInto(writer, (f.message as () => MessageSpec)(), v as Record<string, unknown>, depth + 1);
      return writer.join(start);
    }
    case 'map':
      throw new Error('unreachable: maps are written by entries');
  }
}
