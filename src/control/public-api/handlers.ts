// ListPods, Version and SelfCheck of the public API (StatSummary and TopRoutes have their own files).
import { readFileSync } from 'node:fs';
import type { CheckResult, ListPodsRequest, ListPodsResponse, Pod, SelfCheckResponse, VersionInfo } from '../../api/public-messages.ts';
import { msToDuration } from '../../api/proto.ts';
import type { PodInfo } from '../discovery/types.ts';
import type { TelemetryView } from '../telemetry/view.ts';
import { workloadOf } from './resources.ts';

export const RELEASE_VERSION: string = (() => {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
})();

export interface PodSources {
  readonly store: TelemetryView;
  readonly pods: () => readonly PodInfo[];
  readonly controlPlaneNamespace: string;
  readonly now?: () => number;
}

/** Discovery's pods with their proxies' last report; pods that report but discovery does not know too. */
export function listPods(sources: PodSources, request: ListPodsRequest): ListPodsResponse {
  const now = (sources.now ?? Date.now)();
  const namespace = request.namespace ?? '';
  const pods: Pod[] = [];
  const seen = new Set<string>();
  const withReport = (pod: Pod, ns: string, name: string): Pod => {
    const report = sources.store.podReport(ns, name);
    if (report !== undefined) {
      pod.sinceLastReport = msToDuration(Math.max(0, now - report.lastReport));
      pod.uptime = msToDuration(Math.max(0, now - report.firstReport));
    }
    return pod;
  };
  for (const info of sources.pods()) {
    if (namespace !== '' && info.namespace !== namespace) continue;
    seen.add(`${info.namespace}/${info.name}`);
    const workload = workloadOf(info);
    pods.push(
      withReport(
        {
          name: `${info.namespace}/${info.name}`,
          podIP: info.ip ?? '',
          deployment: workload.startsWith('deployment/') ? `${info.namespace}/${info.owner?.name ?? ''}` : '',
          status: info.phase,
          added: info.meshed,
          controllerNamespace: sources.controlPlaneNamespace,
          controlPlane: info.namespace === sources.controlPlaneNamespace,
          namespace: info.namespace,
          workload,
        },
        info.namespace,
        info.name,
      ),
    );
  }
  for (const report of sources.store.reportingPods()) {
    if ((namespace !== '' && report.namespace !== namespace) || seen.has(`${report.namespace}/${report.pod}`)) continue;
    const workload = report.workload;
    pods.push(
      withReport(
        {
          name: `${report.namespace}/${report.pod}`,
          podIP: '',
          deployment: workload.startsWith('deployment/') ? `${report.namespace}/${workload.slice('deployment/'.length)}` : '',
          status: 'Running',
          added: true,
          controllerNamespace: sources.controlPlaneNamespace,
          controlPlane: report.namespace === sources.controlPlaneNamespace,
          namespace: report.namespace,
          workload,
        },
        report.namespace,
        report.pod,
      ),
    );
  }
  pods.sort((a, b) => (a.name ?? '').localeCompare(b.name ?? ''));
  return { pods };
}

export function version(): VersionInfo {
  // Conduit's field is named for Go; Sluice puts the Node.js version there.
  return { goVersion: process.version, buildDate: '', releaseVersion: RELEASE_VERSION };
}

/** The controller's own checks, in Conduit's CheckResult shape. */
export function selfCheck(sources: PodSources): SelfCheckResponse {
  const now = (sources.now ?? Date.now)();
  const results: CheckResult[] = [];
  let pods: readonly PodInfo[] = [];
  try {
    pods = sources.pods();
    results.push({ SubsystemName: 'sluice-discovery', CheckDescription: 'can list pods', Status: 'OK', FriendlyMessageToUser: `${pods.length} pods known` });
  } catch (error) {
    results.push({ SubsystemName: 'sluice-discovery', CheckDescription: 'can list pods', Status: 'ERROR', FriendlyMessageToUser: (error as Error).message });
  }
  const recent = sources.store.reportingPods().filter((r) => r.lastReport >= now - Math.max(60_000, 3 * r.reportIntervalMs));
  const meshedRunning = pods.filter((p) => p.meshed && p.phase === 'Running').length;
  results.push({
    SubsystemName: 'sluice-telemetry',
    CheckDescription: 'proxies report telemetry',
    Status: meshedRunning > 0 && recent.length === 0 ? 'FAIL' : 'OK',
    FriendlyMessageToUser:
      meshedRunning > 0 && recent.length === 0
        ? `${meshedRunning} meshed pods are running but none reported in the last minute: check SLUICE_PROXY_TELEMETRY_SVC_ADDR / SLUICE_PROXY_DESTINATION_SVC_ADDR`
        : `${recent.length} proxies reported in the last minute; ${sources.store.describe()}`,
  });
  return { results };
}
