// A sparkline of the last ten minutes, drawn by uPlot (a ~45 KB canvas time-series library made for
// exactly this: many small charts redrawn every few seconds). The number beside it is the exact value;
// the chart shows the trend, and its accessible name says what it covers.
import { h, type ComponentChild } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';

export interface SparklineProps {
  /** Sample times, ms since the epoch. */
  readonly t: readonly number[];
  readonly values: ReadonlyArray<number | null>;
  /** What the line is (`RPS of deploy/web`), for screen readers. */
  readonly label: string;
  readonly width?: number;
  readonly height?: number;
}

function strokeColour(): string {
  return getComputedStyle(document.documentElement).getPropertyValue('--spark').trim() || '#2f6fdf';
}

export function Sparkline(props: SparklineProps): ComponentChild {
  const holder = useRef<HTMLSpanElement>(null);
  const chart = useRef<uPlot | null>(null);
  const width = props.width ?? 96;
  const height = props.height ?? 24;
  const data: uPlot.AlignedData = [props.t.map((t) => t / 1000), [...props.values]];

  useEffect(() => {
    if (holder.current === null) return undefined;
    const options: uPlot.Options = {
      width,
      height,
      pxAlign: false,
      cursor: { show: false },
      select: { show: false, left: 0, top: 0, width: 0, height: 0 },
      legend: { show: false },
      scales: { x: { time: false }, y: { range: (_u, min, max) => [Math.min(0, min ?? 0), Math.max(max ?? 1, 1e-9) * 1.1] } },
      axes: [{ show: false }, { show: false }],
      // uPlot shows the points by itself while there are few (a first sample is a dot, not nothing).
      // The colour is read at each draw, so a switch between light and dark shows at the next refresh.
      series: [{}, { stroke: () => strokeColour(), width: 1.5, spanGaps: false, points: { size: 3 } }],
    };
    chart.current = new uPlot(options, data, holder.current);
    return () => {
      chart.current?.destroy();
      chart.current = null;
    };
  }, [width, height]);

  useEffect(() => {
    chart.current?.setData(data);
  });

  const last = props.values.length === 0 ? undefined : props.values[props.values.length - 1];
  return h('span', {
    class: 'sparkline',
    ref: holder,
    role: 'img',
    'aria-label': `${props.label}, last ${Math.round((props.t.length > 1 ? (props.t[props.t.length - 1]! - props.t[0]!) / 60000 : 0))} min${last === null || last === undefined ? '' : `, now ${last.toFixed(2)}`}`,
  });
}
