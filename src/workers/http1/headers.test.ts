// Hop-by-hop header handling for HTTP/1.1 forwarding (RFC 9110 §7.6.1), on Node's flat raw-header
// arrays ([name, value, name, value, …]) so that names keep their case and repeated fields their order.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { framing, stripHopByHop, withoutField } from './headers.ts';

const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'http2-settings'];

describe('stripHopByHop', () => {
  it('drops every hop-by-hop field, in any case', () => {
    const raw = [
      'Host', 'web',
      'Connection', 'keep-alive',
      'Keep-Alive', 'timeout=5',
      'Proxy-Connection', 'keep-alive',
      'Transfer-Encoding', 'chunked',
      'TE', 'trailers',
      'Trailer', 'Expires',
      'Upgrade', 'websocket',
      'HTTP2-Settings', 'AAMAAABkAAQAAP__',
      'Accept', '*/*',
    ];
    assert.deepEqual(stripHopByHop(raw), ['Host', 'web', 'Accept', '*/*']);
    assert.deepEqual(stripHopByHop(['CONNECTION', 'close', 'tE', 'x', 'x-kept', '1']), ['x-kept', '1']);
  });

  it('drops the fields that Connection lists, case-insensitively, across several Connection fields', () => {
    const raw = [
      'Connection', 'X-Trace-Hop, keep-alive',
      'x-trace-hop', 'a',
      'X-Other', 'b',
      'connection', ' x-other-hop ,close',
      'X-Other-Hop', 'c',
      'X-End', 'd',
    ];
    assert.deepEqual(stripHopByHop(raw), ['X-Other', 'b', 'X-End', 'd']);
  });

  it('keeps every other field in order, with its original case and value, repeated fields included', () => {
    const raw = ['Host', 'web', 'Set-Cookie', 'a=1', 'X-Mixed-Case', 'V', 'set-cookie', 'b=2', 'Content-Length', '3'];
    assert.deepEqual(stripHopByHop(raw), raw);
  });

  it('keeps Content-Length and fields whose names only contain a hop-by-hop name', () => {
    const raw = ['Content-Length', '5', 'X-Connection', 'keep', 'Upgrade-Insecure-Requests', '1', 'Tee', 'x'];
    assert.deepEqual(stripHopByHop(raw), raw);
  });

  it('returns a new array and leaves its input untouched', () => {
    const raw = ['Connection', 'close', 'Host', 'web'];
    const copy = [...raw];
    const out = stripHopByHop(raw);
    assert.notEqual(out, raw);
    assert.deepEqual(raw, copy);
  });

  it('with keepUpgrade, forwards Upgrade and says Connection: upgrade, still dropping the rest', () => {
    const raw = [
      'Host', 'web',
      'Connection', 'Upgrade, X-Hop',
      'Upgrade', 'websocket',
      'X-Hop', '1',
      'Keep-Alive', 'timeout=5',
      'Sec-WebSocket-Key', 'dGhlIHNhbXBsZSBub25jZQ==',
    ];
    assert.deepEqual(stripHopByHop(raw, true), [
      'Host', 'web',
      'Upgrade', 'websocket',
      'Sec-WebSocket-Key', 'dGhlIHNhbXBsZSBub25jZQ==',
      'Connection', 'upgrade',
    ]);
  });

  it('without keepUpgrade, drops Upgrade (a request the upstream should not see as an upgrade)', () => {
    assert.deepEqual(stripHopByHop(['Upgrade', 'h2c', 'Connection', 'Upgrade, HTTP2-Settings', 'Host', 'web']), ['Host', 'web']);
  });

  // ── properties ───────────────────────────────────────────────────────────────────────────────

  const TCHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
  const mixedCase = (name: string): fc.Arbitrary<string> =>
    fc.array(fc.boolean(), { minLength: name.length, maxLength: name.length }).map((upper) =>
      [...name].map((c, i) => (upper[i] ? c.toUpperCase() : c)).join(''),
    );
  const token = fc.string({ unit: fc.constantFrom(...TCHARS), minLength: 1, maxLength: 12 });
  /** Header names: hop-by-hop ones, a few that Connection may list, and random tokens, in random case. */
  const LISTABLE = ['x-hop', 'x-trace', 'foo', 'close', 'keep-alive', 'upgrade', 'content-length'];
  const name = fc.oneof(
    fc.constantFrom(...HOP_BY_HOP, ...LISTABLE).chain(mixedCase),
    token,
  );
  const connectionValue = fc
    .array(fc.oneof(fc.constantFrom(...LISTABLE, ...HOP_BY_HOP).chain(mixedCase), token), { maxLength: 4 })
    .chain((options) =>
      fc.constantFrom(', ', ',', ' ,  ').map((sep) => options.join(sep)),
    );
  const value = fc.string({ maxLength: 12 });
  const field = fc.oneof(
    fc.tuple(name, value),
    fc.tuple(mixedCase('connection'), connectionValue),
  );
  const rawHeaders = fc.array(field, { maxLength: 12 }).map((fields) => fields.flat());

  /** The names that the Connection fields of `raw` list, lowercase (close and keep-alive are options, not names). */
  function listed(raw: readonly string[]): Set<string> {
    const names = new Set<string>();
    for (let i = 0; i < raw.length; i += 2) {
      if ((raw[i] as string).toLowerCase() !== 'connection') continue;
      for (const part of (raw[i + 1] as string).split(',')) {
        const option = part.trim().toLowerCase();
        if (option !== '' && option !== 'close' && option !== 'keep-alive') names.add(option);
      }
    }
    return names;
  }

  function pairs(raw: readonly string[]): Array<[string, string]> {
    const out: Array<[string, string]> = [];
    for (let i = 0; i + 1 < raw.length; i += 2) out.push([raw[i] as string, raw[i + 1] as string]);
    return out;
  }

  it('never outputs a hop-by-hop field or a field listed in Connection', () => {
    fc.assert(
      fc.property(rawHeaders, (raw) => {
        const hop = listed(raw);
        const out = stripHopByHop(raw);
        assert.equal(out.length % 2, 0);
        for (const [n] of pairs(out)) {
          const lower = n.toLowerCase();
          assert.ok(!HOP_BY_HOP.includes(lower), `${n} is hop-by-hop`);
          assert.ok(!hop.has(lower), `${n} is listed in Connection`);
        }
      }),
    );
  });

  it('keeps every other field, in order, with its name and value unchanged', () => {
    fc.assert(
      fc.property(rawHeaders, (raw) => {
        const hop = listed(raw);
        const expected = pairs(raw).filter(([n]) => !HOP_BY_HOP.includes(n.toLowerCase()) && !hop.has(n.toLowerCase()));
        assert.deepEqual(pairs(stripHopByHop(raw)), expected);
      }),
    );
  });

  it('with keepUpgrade, also keeps every Upgrade field and ends with exactly one Connection: upgrade', () => {
    fc.assert(
      fc.property(rawHeaders, (raw) => {
        const hop = listed(raw);
        const kept = pairs(raw).filter(([n]) => {
          const lower = n.toLowerCase();
          return lower === 'upgrade' || (!HOP_BY_HOP.includes(lower) && !hop.has(lower));
        });
        const out = pairs(stripHopByHop(raw, true));
        assert.deepEqual(out, [...kept, ['Connection', 'upgrade']]);
      }),
    );
  });

  it('never throws on arbitrary strings, and stripping twice changes nothing more', () => {
    fc.assert(
      fc.property(fc.array(fc.string(), { maxLength: 16 }).filter((a) => a.length % 2 === 0), (raw) => {
        const once = stripHopByHop(raw);
        assert.deepEqual(stripHopByHop(once), once);
      }),
    );
  });
});

describe('framing', () => {
  it('reports no body framing when there is neither Transfer-Encoding nor Content-Length', () => {
    assert.deepEqual(framing(['Host', 'web']), { chunked: false, contentLength: undefined });
  });

  it('reports chunked for any Transfer-Encoding field, in any case', () => {
    assert.deepEqual(framing(['Transfer-Encoding', 'chunked']), { chunked: true, contentLength: undefined });
    assert.deepEqual(framing(['transfer-encoding', 'gzip, chunked']), { chunked: true, contentLength: undefined });
  });

  it('reads Content-Length as a number, in any case', () => {
    assert.deepEqual(framing(['Content-Length', '42']), { chunked: false, contentLength: 42 });
    assert.deepEqual(framing(['CONTENT-LENGTH', '0']), { chunked: false, contentLength: 0 });
  });
});

describe('withoutField', () => {
  it('removes every occurrence of one field, matching the name case-insensitively', () => {
    const raw = ['Host', 'web', 'Expect', '100-continue', 'Accept', '*/*', 'EXPECT', 'x'];
    assert.deepEqual(withoutField(raw, 'expect'), ['Host', 'web', 'Accept', '*/*']);
  });

  it('keeps the other fields in order and is a no-op when the field is absent', () => {
    const raw = ['A', '1', 'B', '2'];
    assert.deepEqual(withoutField(raw, 'c'), raw);
  });

  it('drops a trailing name that has no value', () => {
    assert.deepEqual(withoutField(['A', '1', 'B'], 'c'), ['A', '1']);
  });
});
