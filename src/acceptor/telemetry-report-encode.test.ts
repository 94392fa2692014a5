// The reporter's own report encoder writes exactly the bytes of the one table-driven encoder (and so of
// protobufjs, what grpc-js sent before): for any report, in slices or at once, with request contexts
// taken from the bytes kept for them or not.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { ReportRequest as ReportMsg } from '../api/telemetry-messages.ts';
import { messageArbitrary, oracleEncode } from './grpc/oracle-testkit.ts';
import { encodeMessage } from './grpc/protobuf-schema.ts';
import { ReportRequest } from './grpc/telemetry-schema.ts';
import { encodeReport, ReportEncoding } from './telemetry-report-encode.ts';
import { TimeSlicer } from './telemetry-slices.ts';

/** Freezes an object and everything in it, as SeriesShape does with the contexts it shares. */
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !ArrayBuffer.isView(value)) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

describe('encodeReport', () => {
  it('writes the bytes encodeMessage and protobufjs write, for any report (batched ones included)', () => {
    fc.assert(
      fc.property(messageArbitrary(ReportRequest, 'number'), (report) => {
        const ours = encodeReport(report as ReportMsg);
        assert.deepStrictEqual(ours, encodeMessage(ReportRequest, report));
        assert.deepStrictEqual(ours, oracleEncode(ReportRequest, report));
      }),
      { numRuns: 300 },
    );
  });

  it('writes the same bytes from frozen contexts (kept) as from fresh ones, and again from the kept bytes', () => {
    fc.assert(
      fc.property(messageArbitrary(ReportRequest, 'number'), (report) => {
        const expected = encodeMessage(ReportRequest, report);
        const frozen = deepFreeze(structuredClone(report)) as ReportMsg;
        assert.deepStrictEqual(encodeReport(frozen), expected);
        assert.deepStrictEqual(encodeReport(frozen), expected);
      }),
      { numRuns: 100 },
    );
  });

  it('encodes a context that is not frozen through afresh every time (it may have changed)', () => {
    const ctx = { authority: 'web:80', tls: 'disabled' };
    const report: ReportMsg = { requests: [{ ctx, count: 1 }] };
    const first = encodeReport(report);
    ctx.authority = 'books:80';
    assert.deepStrictEqual(encodeReport(report), encodeMessage(ReportRequest, report));
    assert.notDeepStrictEqual(encodeReport(report), first);
    // Frozen on top, but its labels are not.
    const labels: Record<string, string> = { service: 'web' };
    const shallow: ReportMsg = { requests: [{ ctx: Object.freeze({ authority: 'web:80', dst_labels: labels }), count: 1 }] };
    encodeReport(shallow);
    labels['service'] = 'books';
    assert.deepStrictEqual(encodeReport(shallow), encodeMessage(ReportRequest, shallow));
  });

  it('writes the same bytes in slices, whatever size it starts from', async () => {
    const scope = (i: number) => ({ ctx: { authority: `svc-${i}:80`, dst_labels: { service: `svc-${i}` } }, count: i, responses: [{ ctx: { http_status_code: 200 }, response_latency_counts: [i, 0, 1] }] });
    const outbound: ReportMsg = { proxy: 'OUTBOUND', sequence: 3, requests: Array.from({ length: 50 }, (_, i) => scope(i)) };
    const call: ReportMsg = { proxy: 'INBOUND', sequence: 3, requests: Array.from({ length: 40 }, (_, i) => scope(i + 100)), batched: [outbound] };
    const encoding = new ReportEncoding(10);
    // A slice of 0 ms: it yields at every pause.
    const slicer = new TimeSlicer(0);
    await slicer.run(encoding.steps(call));
    assert.ok(slicer.yields >= 20, `${slicer.yields} yields`);
    assert.deepStrictEqual(encoding.bytes(), encodeMessage(ReportRequest, call));
  });
});
