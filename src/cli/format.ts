// Pure formatting for the CLI's tables, in the formats of Linkerd's `stat` (wire-facts §4.1):
// `%.2f%%` success, `%.1frps` rate, `%dms` latency, `meshed/running`, `%.1fB/s` bytes, `-` for no
// traffic; columns padded by three spaces, names left-aligned and numbers right-aligned.

export const NO_VALUE = '-';

/** `100.00%`; `-` when there were no responses. */
export function formatSuccess(success: number, failure: number): string {
  const total = success + failure;
  return total > 0 ? `${((100 * success) / total).toFixed(2)}%` : NO_VALUE;
}

/** `100%`: the share of requests that went over mTLS, as Conduit's TLS column (`%.f%%`); `-` without requests. */
export function formatSecured(tls: number, requests: number): string {
  return requests > 0 ? `${Math.round((100 * Math.min(tls, requests)) / requests)}%` : NO_VALUE;
}

/** `2.3rps` */
export function formatRps(requests: number, seconds: number): string {
  return seconds > 0 ? `${(requests / seconds).toFixed(1)}rps` : NO_VALUE;
}

/** `12ms` (whole milliseconds, as Go's %d of a uint64). */
export function formatLatency(ms: number | undefined): string {
  return ms === undefined ? NO_VALUE : `${Math.trunc(ms)}ms`;
}

/** `1/2` */
export function formatMeshed(meshed: number, running: number): string {
  return `${meshed}/${running}`;
}

/** `1024.0B/s` */
export function formatByteRate(bytes: number, seconds: number): string {
  return seconds > 0 ? `${(bytes / seconds).toFixed(1)}B/s` : NO_VALUE;
}

/** Seconds of a time window such as `10s`, `1m`, `10m`, `1h`; undefined if it is not one. */
export function windowSeconds(window: string): number | undefined {
  const match = /^(\d+)(s|m|h)$/.exec(window);
  if (match === null) return undefined;
  return Number(match[1]) * { s: 1, m: 60, h: 3600 }[match[2] as 's' | 'm' | 'h'];
}

export interface Column {
  readonly header: string;
  /** Names and other text read best left-aligned; numbers right-aligned. */
  readonly align: 'left' | 'right';
}

/** Renders rows under headers, each column as wide as its widest cell, three spaces apart. */
export function renderTable(columns: readonly Column[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = columns.map((c, i) => Math.max(c.header.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    columns
      .map((c, i) => {
        const cell = cells[i] ?? '';
        const width = widths[i] as number;
        return c.align === 'left' ? cell.padEnd(width) : cell.padStart(width);
      })
      .join('   ')
      .trimEnd();
  return [line(columns.map((c) => c.header)), ...rows.map(line)].join('\n') + '\n';
}
