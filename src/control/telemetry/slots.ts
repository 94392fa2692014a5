// One time slot of one key in the telemetry store, and the sums over slots a query makes. Pure.
import { COUNTS_LENGTH } from '../../telemetry/exact-latency.ts';
import type { Aggregate } from './keys.ts';
import type { SparseLatency } from './sparse-latency.ts';

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

export function emptyAggregate(): Aggregate {
  return {
    requests: 0,
    success: 0,
    failure: 0,
    tlsRequests: 0,
    opened: 0,
    closed: 0,
    readBytes: 0,
    writeBytes: 0,
    openConnections: 0,
    latency: undefined,
  };
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

export function addSlot(agg: Aggregate, slot: Slot): void {
  agg.requests += slot.requests;
  agg.success += slot.success;
  agg.failure += slot.failure;
  agg.tlsRequests += slot.tlsRequests;
  agg.opened += slot.opened;
  agg.closed += slot.closed;
  agg.readBytes += slot.readBytes;
  agg.writeBytes += slot.writeBytes;
  if (slot.latency !== undefined && slot.latency.size > 0) slot.latency.addTo((agg.latency ??= new Float64Array(COUNTS_LENGTH)));
}
