// The Tap server's own metrics, rendered the same whether or not the server has been loaded yet.
import { labels, type FamilySnapshot } from '../telemetry/metrics.ts';

export interface TapCounts {
  readonly observeTotal: number;
  readonly active: number;
  readonly eventsTotal: number;
  readonly droppedTotal: number;
}

export const NO_TAP_COUNTS: TapCounts = { observeTotal: 0, active: 0, eventsTotal: 0, droppedTotal: 0 };

export function tapMetrics(counts: TapCounts): FamilySnapshot[] {
  const none = labels({});
  return [
    { name: 'tap_observe_total', help: 'Tap Observe calls accepted.', kind: 'counter', series: [[none, counts.observeTotal]] },
    { name: 'tap_observe_active', help: 'Tap Observe calls in progress.', kind: 'gauge', series: [[none, counts.active]] },
    { name: 'tap_events_total', help: 'Tap events sent to callers.', kind: 'counter', series: [[none, counts.eventsTotal]] },
    {
      name: 'tap_events_dropped_total',
      help: 'Tap events dropped because their caller was not reading them fast enough.',
      kind: 'counter',
      series: [[none, counts.droppedTotal]],
    },
  ];
}
