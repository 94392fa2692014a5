// One time slot of one key in the telemetry store, and the sums over slots a query makes. Pure.
import { COUNTS_LENGTH } from '../../telemetry/exact-latency.ts';
import type { Aggregate } from './keys.ts';
import { SparseLatency } from './sparse-latency.ts';

export interface Slot {
  requests: number;
  success: number;
  failure: number;
  tlsRequests: number;
  opened: number;
  closed: number;
  readBytes: number;
  writeBytes: number;
  latency: SparseLatency | undefined;
}

export function emptySlot(): Slot {
  return { requests: 0, success: 0, failure: 0, tlsRequests: 0, opened: 0, closed: 0, readBytes: 0, writeBytes: 0, latency: undefined };
}

/** A query's sum over slots: latencies summed sparse, made dense only if `latency` is read. */
class SlotAggregate implements Aggregate {
  requests = 0;
  success = 0;
  failure = 0;
  tlsRequests = 0;
  opened = 0;
  closed = 0;
  readBytes = 0;
  writeBytes = 0;
  openConnections = 0;
  sparseLatency: SparseLatency | undefined = undefined;
  /** Requests and connection events summed, and the same each times its key's coverage factor. */
  weight = 0;
  weighted = 0;

  get coverageScale(): number {
    return this.weight > 0 ? this.weighted / this.weight : 1;
  }
  private dense: Float64Array | undefined = undefined;

  get latency(): Float64Array | undefined {
    if (this.dense === undefined && this.sparseLatency !== undefined) {
      this.dense = new Float64Array(COUNTS_LENGTH);
      this.sparseLatency.addTo(this.dense);
    }
    return this.dense;
  }

  set latency(dense: Float64Array | undefined) {
    this.dense = dense;
    this.sparseLatency = undefined;
  }
}

export function emptyAggregate(): Aggregate {
  return new SlotAggregate();
}

export function mergeSlot(into: Slot, from: Slot): void {
  into.requests += from.requests;
  into.success += from.success;
  into.failure += from.failure;
  into.tlsRequests += from.tlsRequests;
  into.opened += from.opened;
  into.closed += from.closed;
  into.readBytes += from.readBytes;
  into.writeBytes += from.writeBytes;
  if (from.latency !== undefined) {
    if (into.latency === undefined) into.latency = from.latency;
    else into.latency.merge(from.latency);
  }
}

/** A report's counts of connections and bytes (a transport entry) into a slot. */
export function addTransport(slot: Slot, transport: { connects?: number; disconnect_count?: number; read_bytes?: number; write_bytes?: number }): void {
  slot.opened += transport.connects ?? 0;
  slot.closed += transport.disconnect_count ?? 0;
  slot.readBytes += transport.read_bytes ?? 0;
  slot.writeBytes += transport.write_bytes ?? 0;
}

/**
 * Adds a slot's counts to a query's aggregate; `factor` is its key's coverage factor (coverage.ts),
 * weighted into the aggregate's coverageScale by the slot's requests and connection events.
 */
export function addSlot(agg: Aggregate, slot: Slot, factor = 1): void {
  if (!(agg instanceof SlotAggregate)) throw new Error('addSlot sums into an aggregate made by emptyAggregate');
  agg.requests += slot.requests;
  agg.success += slot.success;
  agg.failure += slot.failure;
  agg.tlsRequests += slot.tlsRequests;
  agg.opened += slot.opened;
  agg.closed += slot.closed;
  agg.readBytes += slot.readBytes;
  agg.writeBytes += slot.writeBytes;
  const weight = slot.requests + slot.opened + slot.closed;
  agg.weight += weight;
  agg.weighted += weight * factor;
  if (slot.latency === undefined || slot.latency.size === 0) return;
  // Summed sparse: a row's latencies are a few dozen distinct values (see Aggregate.sparseLatency).
  (agg.sparseLatency ??= new SparseLatency()).merge(slot.latency);
}
