// Latency summaries: the fixed percentiles the tables show, and the percentile-distribution curve
// that the SVG plots (evenly spaced on a log scale of 1 / (1 - percentile)).
import type { Histogram } from 'hdr-histogram-js';

export interface LatencySummary {
  /** Number of recorded latencies. */
  count: number;
  /** Microseconds. */
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

/** [percentile (0–100), latency µs] points, percentile increasing. */
export type Curve = Array<[number, number]>;

/**
 * The percentiles of a distribution curve: `100 * (1 - 10^(-k / perDecade))` for k = 0, 1, …, stopping
 * where fewer than one sample would lie beyond (1 / (1 - p) > count) or past `maxNines` nines.
 */
export function curvePercentiles(count: number, perDecade = 10, maxNines = 5): number[] {
  const out: number[] = [];
  if (count <= 0) return out;
  for (let k = 0; k <= perDecade * maxNines; k++) {
    const tail = Math.pow(10, -k / perDecade);
    if (1 / tail > count) break;
    out.push(Number((100 * (1 - tail)).toFixed(6)));
  }
  return out;
}

export function summarize(h: Histogram): LatencySummary {
  if (h.totalCount === 0) return { count: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0, mean: 0 };
  return {
    count: h.totalCount,
    p50: h.getValueAtPercentile(50),
    p90: h.getValueAtPercentile(90),
    p99: h.getValueAtPercentile(99),
    p999: h.getValueAtPercentile(99.9),
    max: h.maxValue,
    mean: Math.round(h.mean * 10) / 10,
  };
}

/** The curve for the SVG: values at curvePercentiles(), then the maximum at the last reachable percentile. */
export function curve(h: Histogram): Curve {
  const ps = curvePercentiles(h.totalCount);
  const out: Curve = ps.map((p) => [p, h.getValueAtPercentile(p)]);
  if (h.totalCount > 0) {
    const lastP = Number((100 * (1 - 1 / h.totalCount)).toFixed(6));
    const prev = out[out.length - 1];
    if (prev === undefined || lastP > prev[0]) out.push([lastP, h.maxValue]);
    else prev[1] = h.maxValue;
  }
  return out;
}

/** Percentile points → x position: log10(1 / (1 - p/100)); 0 at p = 0, 1 at 90 %, 2 at 99 %, … */
export function nines(percentile: number): number {
  const tail = 1 - percentile / 100;
  return tail <= 0 ? Infinity : tail >= 1 ? 0 : -Math.log10(tail);
}
