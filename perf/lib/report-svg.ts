// latency-<protocol>.svg: latency by percentile, HdrHistogram "percentile distribution" style: x is
// log10(1 / (1 − p)) (so 90 %, 99 %, 99.9 % are evenly spaced), y is latency on a log scale; one line per
// target, one panel per request rate. Plain hand-written SVG.
import { nines } from './stats.ts';
import type { Curve } from './stats.ts';

export interface Series {
  name: string;
  curve: Curve;
}

export interface Panel {
  title: string;
  series: Series[];
}

const PALETTE: Record<string, string> = {
  direct: '#222222',
  sluice: '#d62728',
  'sluice-2': '#ff7f0e',
  'sluice-w0': '#e377c2',
  haproxy: '#1f77b4',
  nginx: '#2ca02c',
  'node-tcp-pipe': '#9467bd',
  'node-tcp-pipe-2': '#c5b0d5',
  'node-tls-pipe-2': '#7b4173',
  'node-naive-http': '#8c564b',
  'node-naive-h2': '#8c564b',
};
const SPARE = ['#17becf', '#bcbd22', '#7f7f7f', '#aec7e8', '#98df8a'];

export function colorOf(name: string, index: number): string {
  return PALETTE[name] ?? SPARE[index % SPARE.length] ?? '#000000';
}

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Human label of a latency in µs: 10 µs, 100 µs, 1 ms, 10 ms, 100 ms, 1 s, 10 s. */
export function latencyLabel(us: number): string {
  if (us >= 1e6) return `${us / 1e6} s`;
  if (us >= 1e3) return `${us / 1e3} ms`;
  return `${us} µs`;
}

/** Label of the x tick at `k` nines: 0 %, 90 %, 99 %, 99.9 %, … */
export function ninesLabel(k: number): string {
  if (k === 0) return '0%';
  return `${(100 - Math.pow(10, 2 - k)).toFixed(Math.max(0, k - 2))}%`;
}

const W = 470;
const H = 330;
const M = { left: 62, right: 30, top: 34, bottom: 44 };

function panelSvg(p: Panel, xMax: number, yMin: number, yMax: number, dx: number, names: string[]): string {
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const x = (n: number): number => M.left + (Math.min(n, xMax) / xMax) * pw;
  const y = (us: number): number => M.top + ph - ((Math.log10(Math.max(us, 1)) - yMin) / (yMax - yMin)) * ph;
  const parts: string[] = [];
  parts.push(`<g transform="translate(${dx},0)">`);
  parts.push(`<text x="${M.left + pw / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${escapeXml(p.title)}</text>`);
  parts.push(`<rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}" fill="#ffffff" stroke="#888888"/>`);
  for (let k = 0; k <= xMax; k++) {
    const xx = x(k).toFixed(1);
    parts.push(`<line x1="${xx}" y1="${M.top}" x2="${xx}" y2="${M.top + ph}" stroke="#e4e4e4"/>`);
    parts.push(`<text x="${xx}" y="${M.top + ph + 16}" text-anchor="middle" font-size="11">${ninesLabel(k)}</text>`);
  }
  parts.push(`<text x="${M.left + pw / 2}" y="${H - 8}" text-anchor="middle" font-size="11">percentile</text>`);
  for (let e = yMin; e <= yMax; e++) {
    const yy = y(Math.pow(10, e)).toFixed(1);
    parts.push(`<line x1="${M.left}" y1="${yy}" x2="${M.left + pw}" y2="${yy}" stroke="#e4e4e4"/>`);
    parts.push(`<text x="${M.left - 6}" y="${yy}" dy="4" text-anchor="end" font-size="11">${latencyLabel(Math.pow(10, e))}</text>`);
  }
  for (const s of p.series) {
    const pts = s.curve.filter(([pc]) => Number.isFinite(nines(pc)));
    if (pts.length === 0) continue;
    const d = pts.map(([pc, v], i) => `${i === 0 ? 'M' : 'L'}${x(nines(pc)).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
    const color = colorOf(s.name, names.indexOf(s.name));
    const dash = s.name === 'sluice-2' || s.name === 'sluice-w0' ? ' stroke-dasharray="6 3"' : '';
    parts.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="1.8"${dash}><title>${escapeXml(s.name)}</title></path>`);
  }
  parts.push('</g>');
  return parts.join('\n');
}

export function renderLatencySvg(title: string, panels: readonly Panel[]): string {
  const all = panels.flatMap((p) => p.series.flatMap((s) => s.curve));
  const names = [...new Set(panels.flatMap((p) => p.series.map((s) => s.name)))];
  const values = all.map(([, v]) => Math.max(v, 1));
  const xs = all.map(([pc]) => nines(pc)).filter((n) => Number.isFinite(n));
  const xMax = Math.max(2, Math.min(5, Math.ceil(xs.length === 0 ? 2 : Math.max(...xs) - 1e-9)));
  const yMin = values.length === 0 ? 1 : Math.floor(Math.log10(Math.min(...values)));
  let yMax = values.length === 0 ? 4 : Math.ceil(Math.log10(Math.max(...values)));
  if (yMax <= yMin) yMax = yMin + 1;
  const legendRows = Math.ceil(names.length / 4);
  const width = W * Math.max(1, panels.length);
  const height = H + 36 + legendRows * 18;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif">`);
  out.push(`<rect width="${width}" height="${height}" fill="#fafafa"/>`);
  out.push(`<text x="${width / 2}" y="${H + 18}" text-anchor="middle" font-size="12" fill="#444444">${escapeXml(title)}</text>`);
  panels.forEach((p, i) => out.push(panelSvg(p, xMax, yMin, yMax, i * W, names)));
  const colW = width / 4;
  names.forEach((n, i) => {
    const lx = 20 + (i % 4) * colW;
    const ly = H + 40 + Math.floor(i / 4) * 18;
    const dash = n === 'sluice-2' || n === 'sluice-w0' ? ' stroke-dasharray="6 3"' : '';
    out.push(`<line x1="${lx}" y1="${ly - 4}" x2="${lx + 24}" y2="${ly - 4}" stroke="${colorOf(n, i)}" stroke-width="2.5"${dash}/>`);
    out.push(`<text x="${lx + 30}" y="${ly}" font-size="12">${escapeXml(n)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
