// Number formats of the benchmark's tables (latest.md and the console summary), shared by every report module.
import { MB } from './checks.ts';

export function fmtInt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

export function fmtUs(n: number): string {
  return fmtInt(n);
}

export function fmtMb(bytes: number): string {
  return bytes > 0 ? (bytes / MB).toFixed(1) : '–';
}

export function fmtRate(rate: number): string {
  return rate >= 1000 && rate % 1000 === 0 ? `${rate / 1000}k` : String(rate);
}
