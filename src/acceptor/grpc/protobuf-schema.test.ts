// Our field tables and codec against protobufjs (what @grpc/proto-loader runs on): every table matches
// its .proto field for field, and random messages encoded by either side decode identically on the
// other, byte for byte where we encode.
import { CertifyRequest, CertifyResponse } from './identity-schema.ts';
import { PortSpec, Server } from './inbound-schema.ts';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type protobuf from 'protobufjs';
import { DestinationProfile, GetDestination, Update } from './destination-schema.ts';
import { messageArbitrary, oracleDecode, oracleEncode, oracleType } from './oracle-testkit.ts';
import { decodeMessage, encodeMessage, type MessageSpec } from './protobuf-schema.ts';
import { ProtoWriter } from './protobuf-wire.ts';
import { ReportRequest, ReportResponse } from './telemetry-schema.ts';

const ROOTS = [GetDestination, Update, DestinationProfile, ReportRequest, ReportResponse, CertifyRequest, CertifyResponse, PortSpec, Server];

/** Every message reachable from the roots, once. */
function reachable(): MessageSpec[] {
  const seen = new Map<string, MessageSpec>();
  const visit = (spec: MessageSpec): void => {
    if (seen.has(spec.name)) return;
    seen.set(spec.name, spec);
    for (const f of spec.fields) if (f.message !== undefined) visit(f.message());
  };
  ROOTS.forEach(visit);
  return [...seen.values()];
}

function expectedType(f: protobuf.Field): string {
  if (f.map) return 'map';
  if (f.resolvedType !== null && 'fields' in f.resolvedType) return 'message';
  if (f.resolvedType !== null) return 'enum';
  return f.type;
}

describe('field tables', () => {
  for (const spec of reachable()) {
    it(`${spec.name} matches the .proto`, () => {
      const type = oracleType(spec);
      assert.deepEqual(spec.fields.map((f) => f.name).sort(), Object.keys(type.fields).sort());
      for (const f of spec.fields) {
        const theirs = type.fields[f.name] as protobuf.Field;
        assert.equal(f.number, theirs.id, `${f.name} number`);
        assert.equal(f.type, expectedType(theirs), `${f.name} type`);
        assert.equal(f.repeated, theirs.repeated, `${f.name} repeated`);
        assert.equal(f.oneof, theirs.partOf?.name, `${f.name} oneof`);
        if (f.type === 'map') assert.deepEqual([(theirs as unknown as protobuf.MapField).keyType, theirs.type], ['string', 'string']);
        if (f.type === 'message') assert.equal(`.${f.message?.().name}`, theirs.resolvedType?.fullName, `${f.name} message`);
        if (f.type === 'enum') {
          const values = (theirs.resolvedType as protobuf.Enum).values;
          assert.deepEqual(Object.fromEntries((f.enumNames ?? []).map((n, i) => [n, i])), values, `${f.name} enum`);
        }
      }
    });
  }
});

const CASES: Array<[MessageSpec, 'string' | 'number']> = [
  [Update, 'string'],
  [DestinationProfile, 'string'],
  [GetDestination, 'string'],
  [ReportRequest, 'number'],
  [CertifyRequest, 'number'],
  [CertifyResponse, 'number'],
  [PortSpec, 'number'],
  [Server, 'string'],
];

describe('codec against protobufjs', () => {
  for (const [spec, longs] of CASES) {
    it(`${spec.name}: protobufjs bytes decode to what protobufjs decodes (longs as ${longs}s)`, () => {
      fc.assert(
        fc.property(messageArbitrary(spec, longs), (value) => {
          const bytes = oracleEncode(spec, value);
          // The arbitrary builds exactly proto-loader's shape (else this comparison would prove little).
          assert.deepStrictEqual(oracleDecode(spec, bytes, longs), value);
          assert.deepStrictEqual(decodeMessage(spec, bytes, { longs }), value);
        }),
        { numRuns: 300 },
      );
    });

    it(`${spec.name}: our bytes are protobufjs's bytes, and decode back`, () => {
      fc.assert(
        fc.property(messageArbitrary(spec, longs), (value) => {
          const ours = encodeMessage(spec, value);
          assert.deepStrictEqual(ours, oracleEncode(spec, value));
          assert.deepStrictEqual(oracleDecode(spec, ours, longs), value);
        }),
        { numRuns: 300 },
      );
    });
  }

  it('skips unknown fields of every wire type, groups included, wherever they are', () => {
    const unknown = fc.oneof(
      fc.record({ wire: fc.constant(0), value: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }) }),
      fc.record({ wire: fc.constant(1), value: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }) }),
      fc.record({ wire: fc.constant(2), value: fc.uint8Array({ maxLength: 5 }) }),
      fc.record({ wire: fc.constant(3), value: fc.integer({ min: 0, max: 0xffffffff }) }),
      fc.record({ wire: fc.constant(5), value: fc.integer({ min: 0, max: 0xffffffff }) }),
    );
    fc.assert(
      fc.property(messageArbitrary(Update, 'string'), fc.array(fc.tuple(fc.integer({ min: 4, max: 5000 }), unknown), { maxLength: 4 }), (value, extras) => {
        const w = new ProtoWriter();
        for (const [number, { wire, value: v }] of extras) {
          w.tag(number, wire);
          if (wire === 0) w.varint64(v as bigint);
          else if (wire === 1) w.fixed64(v as bigint);
          else if (wire === 2) w.bytes(v as Uint8Array);
          else if (wire === 5) w.fixed32(v as number);
          else {
            // A group holding a varint field, ended by its END_GROUP tag.
            w.tag(1, 0);
            w.varint32(v as number);
            w.tag(number, 4);
          }
        }
        const noise = w.finish();
        // Protobuf messages concatenate: noise before and after leaves the message as it was.
        const bytes = Buffer.concat([noise, oracleEncode(Update, value), noise]);
        assert.deepStrictEqual(decodeMessage(Update, bytes, { longs: 'string' }), value);
      }),
      { numRuns: 200 },
    );
  });

  it('a known field number with an unexpected wire type is kept out, not misread', () => {
    const w = new ProtoWriter();
    w.tag(2, 0); // port is a varint: fine
    w.varint32(80);
    w.tag(1, 0); // ip is a message: a varint there is skipped
    w.varint32(7);
    assert.deepStrictEqual(decodeMessage(oracleTcp(), w.finish(), { longs: 'string' }), { port: 80 });
  });

  it('the last member of a oneof wins', () => {
    const bytes = Buffer.concat([oracleEncode(Update, { add: {} }), oracleEncode(Update, { no_endpoints: { exists: true } })]);
    assert.deepStrictEqual(decodeMessage(Update, bytes, { longs: 'string' }), { no_endpoints: { exists: true }, update: 'no_endpoints' });
  });

  it('refuses a truncated message and a message nested beyond reason', () => {
    const bytes = oracleEncode(Update, { add: { addrs: [{ addr: { port: 80 } }] } });
    assert.throws(() => decodeMessage(Update, bytes.subarray(0, bytes.length - 1), { longs: 'string' }), { name: 'ProtoDecodeError' });
    // RequestMatch{not: RequestMatch{not: …}} 100 deep, written by hand (both encoders refuse to).
    let match: Buffer = Buffer.alloc(0);
    for (let i = 0; i < 100; i++) {
      const w = new ProtoWriter();
      w.tag(3, 2);
      w.bytes(match);
      match = w.finish();
    }
    const w = new ProtoWriter();
    w.tag(1, 2); // routes
    const start = w.fork();
    w.tag(1, 2); // condition
    w.bytes(match);
    w.join(start);
    const profile = w.finish();
    assert.throws(() => decodeMessage(DestinationProfile, profile, { longs: 'string' }), /nested too deeply/);
  });

  it('refuses values that cannot be encoded, naming the field', () => {
    assert.throws(() => encodeMessage(ReportRequest, { proxy: 'SIDEWAYS' }), /ReportRequest.proxy: no enum value named "SIDEWAYS"/);
    assert.throws(() => encodeMessage(ReportRequest, { requests: {} }), /ReportRequest.requests: array expected/);
    assert.throws(() => encodeMessage(ReportRequest, { sequence: 'many' }), /not a 64-bit integer/);
  });
});

function oracleTcp(): MessageSpec {
  const tcp = Update.byNumber.get(2)?.message?.().byNumber.get(1)?.message?.();
  assert.ok(tcp !== undefined);
  return tcp;
}
