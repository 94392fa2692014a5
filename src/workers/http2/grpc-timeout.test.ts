// grpc-timeout (gRPC PROTOCOL-HTTP2.md: "TimeoutValue TimeoutUnit", at most 8 digits, units H M S m u n):
// the deadline the proxy holds a gRPC call to, in milliseconds.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseGrpcTimeout } from './grpc-timeout.ts';

const MAX_TIMER_MS = 2 ** 31 - 1;

describe('parseGrpcTimeout', () => {
  const cases: Array<[string, number]> = [
    ['1H', 3_600_000],
    ['2M', 120_000],
    ['3S', 3000],
    ['250m', 250],
    ['2000000u', 2000],
    ['50000000n', 50],
  ];
  for (const [text, ms] of cases) {
    it(`reads ${text} as ${ms} ms`, () => assert.equal(parseGrpcTimeout(text), ms));
  }

  it('rounds sub-millisecond remainders up, so the proxy never cuts a call short', () => {
    assert.equal(parseGrpcTimeout('1500u'), 2);
    assert.equal(parseGrpcTimeout('1001u'), 2);
    assert.equal(parseGrpcTimeout('1000u'), 1);
  });

  it('gives any positive deadline at least 1 ms', () => {
    assert.equal(parseGrpcTimeout('1u'), 1);
    assert.equal(parseGrpcTimeout('1n'), 1);
  });

  it('treats a zero deadline as already due: 1 ms', () => {
    assert.equal(parseGrpcTimeout('0S'), 1);
    assert.equal(parseGrpcTimeout('0n'), 1);
  });

  it('caps the longest deadline (99999999H) at 2^31-1 ms, the longest timer Node keeps', () => {
    assert.equal(parseGrpcTimeout('99999999H'), MAX_TIMER_MS);
    assert.equal(parseGrpcTimeout('99999999S'), MAX_TIMER_MS);
    assert.equal(parseGrpcTimeout('99999999m'), 99_999_999);
  });

  it('is undefined when the header is absent, so the call has no deadline from the proxy', () => {
    assert.equal(parseGrpcTimeout(undefined), undefined);
  });

  it('is undefined for a repeated header (an array)', () => {
    assert.equal(parseGrpcTimeout(['1S']), undefined);
    assert.equal(parseGrpcTimeout(['1S', '2S']), undefined);
  });

  for (const bad of ['', '1', 'S', '123456789S', '1s', '1h', '1ms', '-1S', '1.5S', ' 1S', '1S ', '1 S', '1SS', '0x10S', '1e3S']) {
    it(`is undefined for the malformed ${JSON.stringify(bad)}`, () => {
      assert.equal(parseGrpcTimeout(bad), undefined);
    });
  }

  it('computes every well-formed value exactly: ceil(value × unit), at least 1, at most 2^31-1 ms', () => {
    // Exact integer arithmetic as the model: value × (numerator / denominator) milliseconds.
    const units: Array<[string, number, number]> = [
      ['H', 3_600_000, 1],
      ['M', 60_000, 1],
      ['S', 1000, 1],
      ['m', 1, 1],
      ['u', 1, 1000],
      ['n', 1, 1_000_000],
    ];
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 99_999_999 }), fc.constantFrom(...units), (n, [unit, num, den]) => {
        const exact = Math.floor((n * num + den - 1) / den);
        const expected = Math.min(Math.max(exact, 1), MAX_TIMER_MS);
        assert.equal(parseGrpcTimeout(`${n}${unit}`), expected);
      }),
    );
  });

  it('accepts leading zeros within the 8 digits', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 9999 }), fc.integer({ min: 0, max: 4 }), (n, zeros) => {
        assert.equal(parseGrpcTimeout(`${'0'.repeat(zeros)}${n}m`), Math.max(n, 1));
      }),
    );
  });

  it('never throws, and returns undefined or whole milliseconds in [1, 2^31-1]', () => {
    const input = fc.oneof(fc.string(), fc.stringMatching(/^-?\d{0,10}[HMSmunsh ]?$/));
    fc.assert(
      fc.property(input, (text) => {
        const ms = parseGrpcTimeout(text);
        if (ms === undefined) return;
        assert.ok(Number.isInteger(ms) && ms >= 1 && ms <= MAX_TIMER_MS, `${text} → ${ms}`);
      }),
    );
  });
});
