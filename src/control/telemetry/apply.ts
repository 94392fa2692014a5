// What the Telemetry.Report handler does with one call's bytes: decode, apply to the store, and note
// the peers it names. Apart from the gRPC handler so that the in-process benchmark
// (perf/controller-ingest-bench.ts) and tests run exactly this.
import type { ReportRequest } from '../../api/telemetry-messages.ts';
import type { PeerIdentities } from './peer-identities.ts';
import { decodeReportRequest, type ReportDecodeCaches } from './report-decode.ts';
import type { TelemetryStore } from './store.ts';

export function applyReportCall(bytes: Uint8Array, store: TelemetryStore, identities: PeerIdentities, now: number, caches?: ReportDecodeCaches): { applied: boolean; report: ReportRequest } {
  const report = decodeReportRequest(bytes, caches);
  const applied = store.ingestCall(report, now);
  if (applied) {
    identities.observe(report, now);
    for (const batched of report.batched ?? []) identities.observe(batched, now);
  }
  return { applied, report };
}
