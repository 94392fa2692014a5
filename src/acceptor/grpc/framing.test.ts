// gRPC message framing: any split of the byte stream into DATA payloads yields the same messages; a
// compressed or oversized message is refused from its prefix; status and timeout headers read and
// written as PROTOCOL-HTTP2.md says.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { MessageAssembler, frameMessage } from './framing.ts';
import { Status, decodeGrpcMessage, encodeGrpcTimeout, statusFromFields, statusFromHttp, statusFromReset } from './status.ts';
import { parseGrpcTimeout } from '../../workers/http2/grpc-timeout.ts';

/** Cuts `bytes` at the given fractions into chunks. */
function split(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => Math.floor(c * bytes.length)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let at = 0;
  for (const p of points) {
    out.push(bytes.subarray(at, p));
    at = p;
  }
  out.push(bytes.subarray(at));
  return out;
}

describe('MessageAssembler', () => {
  it('yields the same messages however DATA cuts the stream', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 6 }), fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 20 }), (messages, cuts) => {
        const wire = Buffer.concat(messages.map((m) => frameMessage(Buffer.from(m))));
        const assembler = new MessageAssembler(1000);
        const got: Buffer[] = [];
        for (const chunk of split(wire, cuts)) assembler.push(chunk, (m) => got.push(Buffer.from(m)));
        assert.deepEqual(got, messages.map((m) => Buffer.from(m)));
        assert.equal(assembler.partial, false);
      }),
    );
  });

  it('knows a message is cut short', () => {
    const assembler = new MessageAssembler();
    assembler.push(frameMessage(Buffer.from('hello')).subarray(0, 7), () => assert.fail('no message yet'));
    assert.equal(assembler.partial, true);
  });

  it('refuses an oversized message from its prefix alone, and a compressed one', () => {
    const prefix = Buffer.from([0, 0, 0x10, 0, 1]); // 1 MiB + 1
    assert.throws(() => new MessageAssembler(1 << 20).push(prefix, () => {}), (e: { status?: { code: number } }) => e.status?.code === Status.RESOURCE_EXHAUSTED);
    assert.throws(() => new MessageAssembler().push(Buffer.from([1, 0, 0, 0, 0]), () => {}), /compressed/);
  });
});

describe('status and timeout headers', () => {
  it('reads grpc-status and a percent-encoded grpc-message', () => {
    assert.deepEqual(statusFromFields(['grpc-status', '5', 'grpc-message', 'no%20such%20name%3A%20%C3%BC']), { code: 5, details: 'no such name: ü' });
    assert.deepEqual(statusFromFields(['grpc-status', '0']), { code: 0, details: '' });
    assert.equal(statusFromFields([]).code, Status.UNKNOWN);
    assert.equal(statusFromFields(['grpc-status', 'x']).code, Status.UNKNOWN);
    assert.equal(decodeGrpcMessage('100% sure %zz'), '100% sure %zz');
  });

  it('maps HTTP statuses and resets as the gRPC spec does', () => {
    assert.equal(statusFromHttp(503).code, Status.UNAVAILABLE);
    assert.equal(statusFromHttp(404).code, Status.UNIMPLEMENTED);
    assert.equal(statusFromHttp(500).code, Status.UNKNOWN);
    assert.equal(statusFromReset(8).code, Status.CANCELLED);
    assert.equal(statusFromReset(7).code, Status.UNAVAILABLE);
    assert.equal(statusFromReset(11).code, Status.RESOURCE_EXHAUSTED);
    assert.equal(statusFromReset(2).code, Status.INTERNAL);
  });

  it('writes grpc-timeout with at most 8 digits, never shorter than asked', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), (ms) => {
        const text = encodeGrpcTimeout(ms);
        assert.match(text, /^\d{1,8}[HMSm]$/);
        assert.ok((parseGrpcTimeout(text) as number) >= Math.min(ms, 2 ** 31 - 1));
      }),
    );
    assert.equal(encodeGrpcTimeout(1500), '1500m');
  });
});
