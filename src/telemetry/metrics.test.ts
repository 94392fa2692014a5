// Metric primitives, snapshots merged across worker threads, and the Prometheus text format 0.0.4 the
// admin /metrics endpoint serves.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  Counter,
  Histogram,
  LATENCY_BUCKETS_MS,
  Registry,
  joinLabels,
  labels,
  mergeSnapshots,
  renderPrometheus,
  type HistogramValue,
  type Snapshot,
} from './metrics.ts';

/** Any text: every Unicode scalar value, with the characters that need escaping made likely. */
const anyText = fc.string({
  unit: fc.oneof(
    fc.constantFrom('\n', '\r', '"', '\\', '\u2028', ' ', '='),
    fc
      .integer({ min: 0, max: 0x10ffff })
      .filter((c) => c < 0xd800 || c > 0xdfff)
      .map((c) => String.fromCodePoint(c)),
  ),
  maxLength: 32,
});

interface Sample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

/** A small reader of the text format, strict enough to catch bad escaping: one sample per line. */
function parseSamples(text: string): Sample[] {
  assert.ok(text.endsWith('\n'), 'the exposition ends with a newline');
  const samples: Sample[] = [];
  for (const line of text.slice(0, -1).split('\n')) {
    if (line === '') continue; // blank lines are allowed (an empty exposition is one)
    if (line.startsWith('#')) {
      assert.match(line, /^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+$/);
      continue;
    }
    // `s`: a label value may hold a raw \r or U+2028; only \\, " and \n must be escaped.
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/s.exec(line);
    assert.ok(m !== null, `not a sample line: ${JSON.stringify(line)}`);
    const parsed: Record<string, string> = {};
    let rest = m[2] ?? '';
    while (rest !== '') {
      const lm = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/.exec(rest);
      assert.ok(lm !== null, `bad labels: ${JSON.stringify(m[2])}`);
      parsed[lm[1] as string] = (lm[2] as string).replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
      rest = rest.slice(lm[0].length);
    }
    const raw = m[3] as string;
    const value = raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : Number(raw);
    samples.push({ name: m[1] as string, labels: parsed, value });
  }
  return samples;
}

function sample(samples: readonly Sample[], name: string, where: Record<string, string> = {}): number | undefined {
  const found = samples.filter((s) => s.name === name && Object.entries(where).every(([k, v]) => s.labels[k] === v));
  assert.ok(found.length <= 1, `${name} ${JSON.stringify(where)} matches ${found.length} samples`);
  return found[0]?.value;
}

describe('labels', () => {
  it('formats pairs once, in the given order', () => {
    assert.equal(labels({ direction: 'inbound', authority: 'web:80' }), 'direction="inbound",authority="web:80"');
    assert.equal(labels({ b: 1, a: 2 }), 'b="1",a="2"');
  });

  it('is empty for no pairs', () => {
    assert.equal(labels({}), '');
  });

  it('escapes backslash, double quote and newline as the text format requires', () => {
    assert.equal(labels({ v: 'a\\b' }), 'v="a\\\\b"');
    assert.equal(labels({ v: 'say "hi"' }), 'v="say \\"hi\\""');
    assert.equal(labels({ v: 'one\ntwo' }), 'v="one\\ntwo"');
    assert.equal(labels({ v: '\\"\n' }), 'v="\\\\\\"\\n"');
  });

  it('round-trips any string value through escaping', () => {
    fc.assert(
      fc.property(anyText, (value) => {
        const text = renderPrometheus([{ name: 'm', help: 'h', kind: 'gauge', series: [[labels({ v: value }), 1]] }]);
        const [s] = parseSamples(text);
        assert.equal(s?.labels['v'], value);
      }),
    );
  });
});

describe('joinLabels', () => {
  it('joins two label strings with a comma, skipping empty ones', () => {
    assert.equal(joinLabels('a="1"', 'b="2"'), 'a="1",b="2"');
    assert.equal(joinLabels('', 'b="2"'), 'b="2"');
    assert.equal(joinLabels('a="1"', ''), 'a="1"');
    assert.equal(joinLabels('', ''), '');
  });
});

describe('Counter and Histogram', () => {
  it('a counter starts at 0 and adds 1, or any amount (a gauge adds negative amounts)', () => {
    const c = new Counter();
    assert.equal(c.value, 0);
    c.inc();
    c.inc(5);
    c.inc(-2);
    assert.equal(c.value, 4);
  });

  it("uses Linkerd's 25 latency buckets (ms), unchanged since Conduit", () => {
    assert.deepEqual(LATENCY_BUCKETS_MS, [
      1, 2, 3, 4, 5, 10, 20, 30, 40, 50, 100, 200, 300, 400, 500, 1000, 2000, 3000, 4000, 5000, 10000, 20000, 30000,
      40000, 50000,
    ]);
  });

  it('has one slot per bucket plus +Inf', () => {
    assert.equal(new Histogram().counts.length, 26);
  });

  it('puts an observation in the first bucket whose bound is ≥ it (bounds are inclusive, as `le` says)', () => {
    const at = (ms: number): number => {
      const h = new Histogram();
      h.observe(ms);
      return h.counts.findIndex((c) => c === 1);
    };
    assert.equal(at(0), 0);
    assert.equal(at(1), 0);
    assert.equal(at(1.0001), 1);
    assert.equal(at(5), 4);
    assert.equal(at(7), 5);
    assert.equal(at(50_000), 24);
    assert.equal(at(50_000.5), 25);
    assert.equal(at(1e9), 25);
  });

  it('keeps the sum and the count of observations', () => {
    const h = new Histogram();
    for (const ms of [0.5, 3, 12.5, 70_000]) h.observe(ms);
    assert.equal(h.count, 4);
    assert.equal(h.sum, 70_016);
  });
});

describe('Registry and snapshots', () => {
  it('creates a series on first use and returns the same one after', () => {
    const registry = new Registry();
    const family = registry.counter('request_total', 'Requests.');
    const a = family.get('x="1"');
    a.inc();
    assert.equal(family.get('x="1"'), a);
    assert.notEqual(family.get('x="2"'), a);
  });

  it('snapshots families in registration order, as plain data', () => {
    const registry = new Registry();
    registry.counter('c_total', 'A counter.').get('a="1"').inc(3);
    registry.gauge('g', 'A gauge.').get('').inc(2);
    registry.histogram('h_ms', 'A histogram.').get('s="200"').observe(7);
    const snapshot = registry.snapshot();
    assert.deepEqual(
      snapshot.map((f) => [f.name, f.kind, f.help]),
      [
        ['c_total', 'counter', 'A counter.'],
        ['g', 'gauge', 'A gauge.'],
        ['h_ms', 'histogram', 'A histogram.'],
      ],
    );
    assert.deepEqual(snapshot[0]?.series, [['a="1"', 3]]);
    const [, value] = snapshot[2]?.series[0] ?? [];
    const histogram = value as HistogramValue;
    assert.equal(histogram.count, 1);
    assert.equal(histogram.sum, 7);
    assert.equal(histogram.counts[5], 1);
    assert.ok(Array.isArray(histogram.counts), 'a plain array, which structured clone carries between threads');
    assert.deepEqual(structuredClone(snapshot), snapshot);
  });

  it('is a copy: later observations do not change an earlier snapshot', () => {
    const registry = new Registry();
    const c = registry.counter('c_total', 'A counter.').get('');
    c.inc();
    const snapshot = registry.snapshot();
    c.inc();
    assert.deepEqual(snapshot[0]?.series, [['', 1]]);
  });
});

describe('renderPrometheus', () => {
  it('writes HELP, TYPE and one line per series, and ends with a newline', () => {
    const registry = new Registry();
    const requests = registry.counter('request_total', 'Total count of HTTP requests.');
    requests.get(labels({ direction: 'outbound', authority: 'web:80' })).inc(2);
    requests.get(labels({ direction: 'inbound', authority: 'say "hi"\\\n' })).inc();
    registry.gauge('tcp_open_connections', 'Number of currently-open connections.').get('').inc(3);
    assert.equal(
      renderPrometheus(registry.snapshot()),
      [
        '# HELP request_total Total count of HTTP requests.',
        '# TYPE request_total counter',
        'request_total{direction="outbound",authority="web:80"} 2',
        'request_total{direction="inbound",authority="say \\"hi\\"\\\\\\n"} 1',
        '# HELP tcp_open_connections Number of currently-open connections.',
        '# TYPE tcp_open_connections gauge',
        'tcp_open_connections 3',
        '',
      ].join('\n'),
    );
  });

  it('leaves out families without series, and renders an empty snapshot as a single newline', () => {
    const registry = new Registry();
    registry.counter('unused_total', 'Never touched.');
    assert.equal(renderPrometheus(registry.snapshot()), '\n');
    assert.equal(renderPrometheus([]), '\n');
  });

  it('writes non-integers as decimals and infinities and NaN as the format spells them', () => {
    const text = renderPrometheus([
      {
        name: 'g',
        help: 'h',
        kind: 'gauge',
        series: [
          ['v="half"', 0.5],
          ['v="inf"', Infinity],
          ['v="-inf"', -Infinity],
          ['v="nan"', NaN],
        ],
      },
    ]);
    assert.match(text, /^g\{v="half"\} 0\.5$/m);
    assert.match(text, /^g\{v="inf"\} \+Inf$/m);
    assert.match(text, /^g\{v="-inf"\} -Inf$/m);
    assert.match(text, /^g\{v="nan"\} NaN$/m);
  });

  it('writes a histogram as 25 cumulative `le` buckets, +Inf, _sum and _count', () => {
    const registry = new Registry();
    const h = registry.histogram('response_latency_ms', 'Latency.').get(labels({ status_code: 200 }));
    for (const ms of [0.4, 1, 3, 3, 45, 700, 60_000]) h.observe(ms);
    const lines = renderPrometheus(registry.snapshot()).split('\n');
    assert.deepEqual(lines.slice(0, 2), ['# HELP response_latency_ms Latency.', '# TYPE response_latency_ms histogram']);
    const buckets = lines.filter((l) => l.startsWith('response_latency_ms_bucket'));
    assert.deepEqual(
      buckets.map((l) => /le="([^"]+)"/.exec(l)?.[1]),
      [...LATENCY_BUCKETS_MS.map(String), '+Inf'],
    );
    assert.equal(buckets[0], 'response_latency_ms_bucket{status_code="200",le="1"} 2');
    assert.equal(buckets[2], 'response_latency_ms_bucket{status_code="200",le="3"} 4');
    assert.equal(buckets[9], 'response_latency_ms_bucket{status_code="200",le="50"} 5');
    assert.equal(buckets[15], 'response_latency_ms_bucket{status_code="200",le="1000"} 6');
    assert.equal(buckets[24], 'response_latency_ms_bucket{status_code="200",le="50000"} 6');
    assert.equal(buckets[25], 'response_latency_ms_bucket{status_code="200",le="+Inf"} 7');
    assert.ok(lines.includes('response_latency_ms_sum{status_code="200"} 60752.4'));
    assert.ok(lines.includes('response_latency_ms_count{status_code="200"} 7'));
  });

  it('writes an unlabelled histogram with only the le label on buckets', () => {
    const registry = new Registry();
    registry.histogram('h', 'H.').get('').observe(2);
    const text = renderPrometheus(registry.snapshot());
    assert.match(text, /^h_bucket\{le="2"\} 1$/m);
    assert.match(text, /^h_sum 2$/m);
    assert.match(text, /^h_count 1$/m);
  });

  it('for any observations, buckets are cumulative and _count equals the +Inf bucket', () => {
    const latency = fc.oneof(fc.double({ min: 0, max: 100_000, noNaN: true }), fc.constantFrom(...LATENCY_BUCKETS_MS));
    fc.assert(
      fc.property(fc.array(latency, { maxLength: 200 }), (observations) => {
        const registry = new Registry();
        const h = registry.histogram('h', 'H.').get('a="1"');
        for (const ms of observations) h.observe(ms);
        const samples = parseSamples(renderPrometheus(registry.snapshot()));
        if (observations.length === 0) {
          assert.equal(sample(samples, 'h_count', { a: '1' }), 0);
        }
        const buckets = samples.filter((s) => s.name === 'h_bucket');
        assert.equal(buckets.length, 26);
        let previous = 0;
        for (const [i, b] of buckets.entries()) {
          assert.ok(b.value >= previous, 'cumulative');
          previous = b.value;
          const bound = i < LATENCY_BUCKETS_MS.length ? (LATENCY_BUCKETS_MS[i] as number) : Infinity;
          assert.equal(b.value, observations.filter((ms) => ms <= bound).length, `le=${b.labels['le']}`);
        }
        assert.equal(sample(samples, 'h_count', { a: '1' }), buckets.at(-1)?.value);
        assert.equal(sample(samples, 'h_count', { a: '1' }), observations.length);
      }),
    );
  });
});

describe('mergeSnapshots (one snapshot per worker thread)', () => {
  it('sums series with the same family and labels, keeps the others', () => {
    const worker = (inbound: number, outbound: number): Snapshot => {
      const registry = new Registry();
      const family = registry.counter('request_total', 'Requests.');
      if (inbound > 0) family.get('direction="inbound"').inc(inbound);
      if (outbound > 0) family.get('direction="outbound"').inc(outbound);
      return registry.snapshot();
    };
    const merged = mergeSnapshots([worker(2, 0), worker(3, 4), worker(0, 1)]);
    assert.deepEqual(merged, [
      {
        name: 'request_total',
        help: 'Requests.',
        kind: 'counter',
        series: [
          ['direction="inbound"', 5],
          ['direction="outbound"', 5],
        ],
      },
    ]);
  });

  it('adds histograms bucket by bucket, with their sums and counts', () => {
    const worker = (observations: number[]): Snapshot => {
      const registry = new Registry();
      const h = registry.histogram('h', 'H.').get('');
      for (const ms of observations) h.observe(ms);
      return registry.snapshot();
    };
    const [family] = mergeSnapshots([worker([1, 100]), worker([2, 100_000])]);
    const [, value] = family?.series[0] ?? [];
    const h = value as HistogramValue;
    assert.equal(h.count, 4);
    assert.equal(h.sum, 100_103);
    assert.equal(h.counts[0], 1);
    assert.equal(h.counts[1], 1);
    assert.equal(h.counts[10], 1);
    assert.equal(h.counts[25], 1);
  });

  it('keeps families in the order first seen, and those only one thread has', () => {
    const a: Snapshot = [{ name: 'a', help: 'A.', kind: 'counter', series: [['', 1]] }];
    const b: Snapshot = [
      { name: 'b', help: 'B.', kind: 'gauge', series: [['', 2]] },
      { name: 'a', help: 'A.', kind: 'counter', series: [['', 1]] },
    ];
    assert.deepEqual(
      mergeSnapshots([a, b]).map((f) => [f.name, f.series]),
      [
        ['a', [['', 2]]],
        ['b', [['', 2]]],
      ],
    );
  });

  it('of no snapshots is empty', () => {
    assert.deepEqual(mergeSnapshots([]), []);
  });

  it('refuses to add a histogram to a counter of the same name and labels', () => {
    const counter: Snapshot = [{ name: 'x', help: '', kind: 'counter', series: [['', 1]] }];
    const histogram: Snapshot = [
      { name: 'x', help: '', kind: 'histogram', series: [['', { counts: new Array(26).fill(0), sum: 0, count: 0 }]] },
    ];
    assert.throws(() => mergeSnapshots([counter, histogram]), TypeError);
  });

  it('renders, for any split of events across threads, the same totals as one thread that saw them all', () => {
    const event = fc.record({
      thread: fc.integer({ min: 0, max: 3 }),
      route: fc.constantFrom('a', 'b', 'c"\\\n'),
      latency: fc.double({ min: 0, max: 60_000, noNaN: true }),
    });
    fc.assert(
      fc.property(fc.array(event, { maxLength: 100 }), (events) => {
        const threads = Array.from({ length: 4 }, () => {
          const registry = new Registry();
          return {
            registry,
            requests: registry.counter('request_total', 'R.'),
            latency: registry.histogram('latency_ms', 'L.'),
          };
        });
        for (const e of events) {
          const t = threads[e.thread];
          assert.ok(t !== undefined);
          t.requests.get(labels({ route: e.route })).inc();
          t.latency.get(labels({ route: e.route })).observe(e.latency);
        }
        const merged = mergeSnapshots(threads.map((t) => t.registry.snapshot()));
        const samples = parseSamples(renderPrometheus(merged));
        for (const route of new Set(events.map((e) => e.route))) {
          const mine = events.filter((e) => e.route === route);
          assert.equal(sample(samples, 'request_total', { route }), mine.length);
          assert.equal(sample(samples, 'latency_ms_count', { route }), mine.length);
          assert.equal(sample(samples, 'latency_ms_bucket', { route, le: '+Inf' }), mine.length);
          for (const bound of LATENCY_BUCKETS_MS) {
            assert.equal(
              sample(samples, 'latency_ms_bucket', { route, le: String(bound) }),
              mine.filter((e) => e.latency <= bound).length,
            );
          }
          const sum = sample(samples, 'latency_ms_sum', { route }) ?? NaN;
          const expected = mine.reduce((acc, e) => acc + e.latency, 0);
          assert.ok(Math.abs(sum - expected) <= 1e-6 * Math.max(1, expected), `sum ${sum} vs ${expected}`);
        }
      }),
    );
  });
});
