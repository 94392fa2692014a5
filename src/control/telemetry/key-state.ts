// The telemetry store's per-key state and slot timing, shared by the store (store.ts) and its query
// (store-query.ts).
import type { StatKey } from './keys.ts';
import type { Slot } from './slots.ts';
import type { CoverageWindow } from './coverage.ts';

export const FINE_SLOT_MS = 10_000;
export const COARSE_SLOT_MS = 60_000;
/** Fine slots older than this are folded into coarse ones. */
export const FINE_RETENTION_MS = 10 * 60_000;
export const RETENTION_MS = 60 * 60_000;

/** One key (or workload rollup) of the store: what it is, its slots, and its place in the store's indexes. */
export interface KeyState {
  readonly key: StatKey;
  readonly id: string;
  /** Its entry in the class index (`byClass`): its direction and scope, or a rollup class. */
  readonly cls: string;
  lastReport: number;
  readonly fine: Map<number, Slot>;
  readonly coarse: Map<number, Slot>;
  bytes: number;
  /** The fine slot reports land in now (most scopes of a key hit the same one): skips a Map lookup. */
  slotIndex: number;
  slot: Slot | undefined;
  /** No longer in the store (a cached reference must not be used). */
  dropped: boolean;
  /** The time its proxy's (or, for a rollup, its workload's) reports cover: scales its counts in a query (coverage.ts). */
  coverage: { factor(window: CoverageWindow): number } | undefined;
}

/** An open-connection gauge of a proxy's last report, for the key it counts under (updated in place: reporters.ts). */
export interface Gauge {
  key: StatKey;
  open: number;
}
