import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { detectProtocol, DETECT_MAX_BYTES } from './detect.ts';
import type { Detected } from './detect.ts';
import { ascii, clientHello, extension } from './testkit.ts';

const PREFACE = 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n';
const TCHARS = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

// ── generators ─────────────────────────────────────────────────────────────────────────────────

const method = fc.string({ unit: fc.constantFrom(...TCHARS), minLength: 1, maxLength: 16 });
const target = fc.string({
  unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)),
  minLength: 1,
  maxLength: 120,
});
const requestLine = fc
  .tuple(method, target, fc.constantFrom('1.0', '1.1'), fc.constantFrom('\r\n', '\n'))
  .map(([m, t, v, eol]) => `${m} ${t} HTTP/${v}${eol}`);
/** A request line followed by arbitrary bytes (headers, body, garbage: none of it is looked at). */
const http1Request = fc
  .tuple(requestLine, fc.uint8Array({ maxLength: 64 }))
  .map(([line, rest]) => Buffer.concat([ascii(line), rest]));

const h2Connection = fc.uint8Array({ maxLength: 64 }).map((rest) => Buffer.concat([ascii(PREFACE), rest]));

const alpnName = fc.uint8Array({ minLength: 1, maxLength: 12 }).map((b) => Buffer.from(b).toString('latin1'));
const mixedCaseDomain = fc
  .tuple(fc.domain(), fc.infiniteStream(fc.boolean()))
  .map(([d, upper]) => [...d].map((c) => (upper.next().value ? c.toUpperCase() : c)).join(''));
/** Extensions other than server_name (0) and ALPN (16), e.g. GREASE, key_share, padding. */
const otherExtension = fc
  .tuple(fc.integer({ min: 1, max: 0xffff }).filter((t) => t !== 16), fc.uint8Array({ maxLength: 40 }))
  .map(([type, data]) => extension(type, data));
const helloSpec = fc.record({
  sni: fc.option(mixedCaseDomain, { nil: undefined }),
  alpn: fc.option(fc.array(alpnName, { minLength: 1, maxLength: 4 }), { nil: undefined }),
  sessionId: fc.uint8Array({ maxLength: 32 }),
  extraExtensions: fc.array(otherExtension, { maxLength: 4 }),
});
const tlsConnection = fc
  .tuple(helloSpec, fc.uint8Array({ maxLength: 32 }))
  .map(([spec, rest]) => ({ spec, bytes: Buffer.concat([clientHello(spec), rest]) }));

const randomBytes = fc.uint8Array({ maxLength: 256 }).map((b) => Buffer.from(b));
/** Random bytes behind a plausible TLS record header, so the TLS path is exercised beyond byte 0. */
const tlsLookalike = fc
  .tuple(fc.constantFrom(1, 3), fc.integer({ min: 0, max: 5 }), fc.integer({ min: 0, max: 400 }), fc.uint8Array({ maxLength: 400 }))
  .map(([major, minor, len, rest]) => Buffer.concat([Buffer.from([22, major, minor, len >> 8, len & 0xff, 1]), rest]));

/** A valid input with one byte changed, a byte dropped, or cut short. */
function mutated(base: fc.Arbitrary<Buffer>): fc.Arbitrary<Buffer> {
  return fc.tuple(base, fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('set', 'drop', 'cut')).map(([buf, at, byte, how]) => {
    if (buf.length === 0) return buf;
    const i = at % buf.length;
    if (how === 'cut') return buf.subarray(0, i);
    if (how === 'drop') return Buffer.concat([buf.subarray(0, i), buf.subarray(i + 1)]);
    const copy = Buffer.from(buf);
    copy[i] = byte;
    return copy;
  });
}

const validInput = fc.oneof(http1Request, h2Connection, tlsConnection.map((t) => t.bytes));
const anyInput = fc.oneof(validInput, mutated(validInput), randomBytes, tlsLookalike);

// ── an independent model of the HTTP/1 and h2 rules, written with regexes over strings ─────────

const FULL_LINE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+ [\x21-\x7e]+ HTTP\/1\.[0-9]\r?\n/;
/** Appending one of these turns any valid strict prefix of a request line into a full line. */
const COMPLETIONS = Array.from({ length: ' / HTTP/1.1\r\n'.length + 1 }, (_, i) => ' / HTTP/1.1\r\n'.slice(i));

function modelHttp(s: string): Detected['kind'] {
  if (s.startsWith(PREFACE)) return 'h2';
  if (FULL_LINE.test(s)) return 'http1';
  if (s.length < PREFACE.length && PREFACE.startsWith(s)) return 'need-more';
  if (s === '' || COMPLETIONS.some((c) => FULL_LINE.test(s + c))) return 'need-more';
  return 'opaque';
}
/** `undefined` two times out of three, else a value. */
const sometimes = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> =>
  fc.oneof({ arbitrary: fc.constant(undefined), weight: 2 }, { arbitrary: arb, weight: 1 });
/** Mostly one of `valid`, sometimes one of `nearMisses`. */
const part = (valid: string[], nearMisses: string[]): fc.Arbitrary<string> =>
  fc.oneof({ arbitrary: fc.constantFrom(...valid), weight: 5 }, { arbitrary: fc.constantFrom(...nearMisses), weight: 1 });
/** Request lines with some parts swapped for near misses, possibly cut short. */
const structuredHttpish = fc
  .tuple(
    part(['GET', 'PRI', 'M-SEARCH', 'get'], ['G(T', '']),
    part([' '], ['  ', '\t', '']),
    part(['/', '*', 'example.com:443'], ['/a\x7f', '']),
    part([' '], ['  ', '']),
    part(['HTTP/1.1', 'HTTP/1.0', 'HTTP/1.9'], ['HTTP/2.0', 'HTTP/1.:', 'HTTP/1./', 'http/1.1', 'HTTP/1.10', 'HTTP/1.']),
    part(['\r\n', '\n'], ['\r', '\rX', ' \r\n', '', '\r\n\r\nSM\r\n\r\n']),
    fc.constantFrom('', 'Host: a\r\n\r\n', '\x00\xff'),
    sometimes(fc.nat()),
  )
  .map(([m, sp1, t, sp2, v, eol, rest, cut]) => {
    const s = m + sp1 + t + sp2 + v + eol + rest;
    return cut === undefined ? s : s.slice(0, cut % (s.length + 1));
  });
/** The h2 preface, possibly with one character replaced and/or cut short, then some bytes. */
const prefaceish = fc
  .tuple(sometimes(fc.tuple(fc.nat(), fc.constantFrom('1', ' ', '\r', '\n', 'X'))), sometimes(fc.nat()), fc.constantFrom('', '\x00\x00\x00\x04', 'GET'))
  .map(([replace, cut, rest]) => {
    let s = PREFACE;
    if (replace !== undefined) {
      const i = replace[0] % s.length;
      s = s.slice(0, i) + replace[1] + s.slice(i + 1);
    }
    return (cut === undefined ? s : s.slice(0, cut % (s.length + 1))) + rest;
  });
/** Strings built from request-line and preface pieces in any order, so near misses are frequent. */
const piecesHttpish = fc
  .array(
    fc.constantFrom('GET', 'PRI', 'M-SEARCH', 'HTTP/1.', 'HTTP/', 'HTTP/2.0', ' * ', ' ', '/', '1', '2', '0', '.', 'a', '*',
      '\r', '\n', '\r\n', '\r\n\r\nSM\r\n\r\n', '\t', '\x7f', '(', '-', 'SM', ':', '9'),
    { maxLength: 12 },
  )
  .map((parts) => parts.join(''));
const httpish = fc.oneof(
  { arbitrary: structuredHttpish, weight: 3 },
  { arbitrary: prefaceish, weight: 1 },
  { arbitrary: piecesHttpish, weight: 2 },
);

// ── helpers ──────────────────────────────────────────────────────────────────────────────────

/** Answers for every prefix of `bytes`, as if it arrived one byte at a time. */
function answersByteByByte(bytes: Buffer): Detected[] {
  const answers: Detected[] = [];
  for (let n = 1; n <= bytes.length; n++) answers.push(detectProtocol(bytes.subarray(0, n)));
  return answers;
}

function assertChunkingInvariant(bytes: Buffer): void {
  const answers = answersByteByByte(bytes);
  const decidedAt = answers.findIndex((a) => a.kind !== 'need-more');
  if (decidedAt !== -1) {
    for (let i = decidedAt + 1; i < answers.length; i++) assert.deepEqual(answers[i], answers[decidedAt]);
  }
  assert.deepEqual(answers.at(-1) ?? detectProtocol(bytes), detectProtocol(bytes));
}

// ── properties ───────────────────────────────────────────────────────────────────────────────

describe('detectProtocol properties', () => {
  it('never throws, on arbitrary bytes and on near-miss inputs', () => {
    fc.assert(
      fc.property(fc.oneof(anyInput, fc.uint8Array({ maxLength: 4096 }).map((b) => Buffer.from(b))), (bytes) => {
        detectProtocol(bytes);
      }),
      { numRuns: 2000 },
    );
  });

  it('chunking invariance: need-more until one decision, which stays and equals the one-shot answer', () => {
    fc.assert(fc.property(anyInput, assertChunkingInvariant), { numRuns: 500 });
  });

  it('decides valid forms as their protocol when fed byte by byte', () => {
    fc.assert(
      fc.property(fc.oneof(http1Request.map((b) => ['http1', b] as const), h2Connection.map((b) => ['h2', b] as const)), ([kind, bytes]) => {
        assertChunkingInvariant(bytes);
        assert.equal(detectProtocol(bytes).kind, kind);
      }),
      { numRuns: 300 },
    );
  });

  it('any generated request line (random token method, random target, 1.0/1.1) is http1', () => {
    fc.assert(
      fc.property(requestLine, (line) => {
        assert.deepEqual(detectProtocol(ascii(line)), { kind: 'http1' });
      }),
      { numRuns: 1000 },
    );
  });

  it('any generated ClientHello reads back its SNI (lowercased) and ALPN', () => {
    fc.assert(
      fc.property(tlsConnection, ({ spec, bytes }) => {
        assert.deepEqual(detectProtocol(bytes), { kind: 'tls', sni: spec.sni?.toLowerCase(), alpn: spec.alpn ?? [] });
      }),
      { numRuns: 500 },
    );
  });

  it('monotonic: a decided buffer keeps its decision whatever is appended', () => {
    fc.assert(
      fc.property(anyInput, fc.uint8Array({ minLength: 1, maxLength: 64 }), (bytes, more) => {
        const before = detectProtocol(bytes);
        fc.pre(before.kind !== 'need-more');
        assert.deepEqual(detectProtocol(Buffer.concat([bytes, more])), before);
      }),
      { numRuns: 1000 },
    );
  });

  it('never answers need-more once DETECT_MAX_BYTES are buffered', () => {
    fc.assert(
      fc.property(anyInput, fc.integer({ min: 0, max: 255 }), (bytes, fill) => {
        const padded = Buffer.alloc(DETECT_MAX_BYTES, fill);
        bytes.copy(padded);
        assert.notEqual(detectProtocol(padded).kind, 'need-more');
      }),
      { numRuns: 200 },
    );
  });

  it('agrees with a regex model of the HTTP/1 and h2 rules on near-miss strings', () => {
    fc.assert(
      fc.property(httpish, (s) => {
        assert.equal(detectProtocol(ascii(s)).kind, modelHttp(s), JSON.stringify(s));
      }),
      { numRuns: 3000 },
    );
  });
});
