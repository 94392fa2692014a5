// A report call's protobuf bytes, written once per report by the telemetry reporter: the same bytes as
// encodeMessage(ReportRequest, call) (the field tables of grpc/telemetry-schema.ts, written field by
// field through the one encoder), but pausing between request scopes so that a report with many series
// can be encoded in slices (telemetry-slices.ts), and kept so that a retried report is not encoded again.
// A request scope's context is the same every interval (telemetry-series-shape.ts shares one frozen
// object per scope): its bytes are written once and copied into every report after that.
import type { ReportRequest } from '../api/telemetry-messages.ts';
import { encodeField, encodeMessage, encodeRepeatedItem, type FieldSpec, type MessageSpec } from './grpc/protobuf-schema.ts';
import { ProtoWriter, WireType } from './grpc/protobuf-wire.ts';
import { ReportRequest as ReportRequestSpec } from './grpc/telemetry-schema.ts';
import { runToEnd } from './telemetry-slices.ts';

/** Request scopes written between two pauses. */
const SCOPES_PER_STEP = 4;

function messageOf(spec: MessageSpec, name: string): MessageSpec {
  const f = spec.fields.find((candidate) => candidate.name === name);
  if (f?.message === undefined) throw new Error(`${spec.name} has no message field ${name}`);
  return f.message();
}

const REQUEST_SCOPE = messageOf(ReportRequestSpec, 'requests');
const REQUEST_CTX = messageOf(REQUEST_SCOPE, 'ctx');

/** Encoded contexts by object; only frozen ones (through and through), which cannot change after their bytes were taken. */
const ctxBytes = new WeakMap<object, Buffer>();

function encodedCtx(ctx: object): Buffer {
  let bytes = ctxBytes.get(ctx);
  if (bytes === undefined) {
    bytes = encodeMessage(REQUEST_CTX, ctx);
    if (frozenThrough(ctx)) ctxBytes.set(ctx, bytes);
  }
  return bytes;
}

function frozenThrough(value: object): boolean {
  if (!Object.isFrozen(value)) return false;
  for (const inner of Object.values(value)) if (typeof inner === 'object' && inner !== null && !frozenThrough(inner)) return false;
  return true;
}

export class ReportEncoding {
  private readonly writer: ProtoWriter;

  /** `sizeHint`: about how many bytes the report will take (the previous one's size), 0 when not known. */
  constructor(sizeHint = 0) {
    // A little over the hint: counts grow between reports.
    this.writer = new ProtoWriter(sizeHint > 0 ? sizeHint + (sizeHint >> 3) : undefined);
  }

  /** Writes `report` (with what is batched in it), pausing every few request scopes; bytes() then gives it. */
  *steps(report: ReportRequest): Generator<void> {
    yield* this.writeReport(report, 0);
  }

  bytes(): Buffer {
    return this.writer.finish();
  }

  private *writeReport(report: ReportRequest, depth: number): Generator<void> {
    const writer = this.writer;
    const fields = report as Record<string, unknown>;
    const specFields = ReportRequestSpec.fields;
    for (let i = 0; i < specFields.length; i++) {
      const f = specFields[i] as FieldSpec;
      const value = fields[f.name];
      if ((f.name === 'requests' || f.name === 'batched') && Array.isArray(value)) {
        yield* this.writeRepeated(f, value, depth);
      } else {
        encodeField(writer, ReportRequestSpec, f, value, depth);
      }
    }
  }

  private *writeRepeated(f: FieldSpec, items: readonly unknown[], depth: number): Generator<void> {
    const writer = this.writer;
    let n = 0;
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      if (f.name === 'batched' && typeof item === 'object' && item !== null) {
        // A report inside the report: written the same way, pauses included.
        writer.tag(f.number, WireType.LEN);
        const start = writer.fork();
        yield* this.writeReport(item as ReportRequest, depth + 1);
        writer.join(start);
      } else if (f.name === 'requests' && typeof item === 'object' && item !== null) {
        writer.tag(f.number, WireType.LEN);
        const start = writer.fork();
        this.writeScope(item as Record<string, unknown>, depth + 1);
        writer.join(start);
        if (++n % SCOPES_PER_STEP === 0) yield;
      } else {
        encodeRepeatedItem(writer, ReportRequestSpec, f, item, depth);
      }
    }
  }

  /** A RequestScope's fields, its context from the bytes kept for it. */
  private writeScope(scope: Record<string, unknown>, depth: number): void {
    const fields = REQUEST_SCOPE.fields;
    for (let i = 0; i < fields.length; i++) {
      const f = fields[i] as FieldSpec;
      const value = scope[f.name];
      if (f.name === 'ctx' && typeof value === 'object' && value !== null) {
        this.writer.tag(f.number, WireType.LEN);
        this.writer.bytes(encodedCtx(value));
      } else {
        encodeField(this.writer, REQUEST_SCOPE, f, value, depth);
      }
    }
  }
}

/** The bytes of `report` at once. */
export function encodeReport(report: ReportRequest): Buffer {
  const encoding = new ReportEncoding();
  runToEnd(encoding.steps(report));
  return encoding.bytes();
}
