// The Prometheus scrape job that collects every meshed pod's proxy metrics, for the Prometheus backend
// (`sluice-controller --prometheus-url`, docs/controller.md). As Linkerd's `linkerd-proxy` job does, it
// finds proxies by what injection puts on every pod (the proxy container and its `sluice-admin` port,
// the `sluice.dev/control-plane-ns` label) rather than by prometheus.io/* annotations, which belong to
// the app: a pod scraped for its own metrics keeps them. Each series gets the labels the controller's
// queries group by: `namespace`, `pod`, and the owner as `deployment`, `statefulset`, … (`k8s_job` for a
// Job, since `job` is the scrape job's own label). Pure: returns YAML text.
import { stringify } from 'yaml';
import { PROXY_CONTAINER } from '../inject/sidecar.ts';

export const SCRAPE_JOB = 'sluice-proxy';
const OWNER_KINDS = ['deployment', 'statefulset', 'daemonset', 'replicaset', 'replicationcontroller', 'cronjob'];

export interface ScrapeOptions {
  readonly controlPlaneNamespace: string;
  /** Prometheus duration; Linkerd scrapes its proxies every 10 s. */
  readonly scrapeInterval?: string;
}

/** One entry of `scrape_configs`, as YAML (a list with one item, ready to append to a configuration). */
export function proxyScrapeConfig(options: ScrapeOptions): string {
  const label = (name: string): string => `__meta_kubernetes_pod_label_${name.replace(/[^a-zA-Z0-9_]/g, '_')}`;
  const job = {
    job_name: SCRAPE_JOB,
    scrape_interval: options.scrapeInterval ?? '10s',
    metrics_path: '/metrics',
    kubernetes_sd_configs: [{ role: 'pod' }],
    relabel_configs: [
      {
        source_labels: ['__meta_kubernetes_pod_container_name', '__meta_kubernetes_pod_container_port_name', label('sluice.dev/control-plane-ns')],
        action: 'keep',
        regex: `^${PROXY_CONTAINER};sluice-admin;${options.controlPlaneNamespace.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`,
      },
      { source_labels: ['__meta_kubernetes_namespace'], target_label: 'namespace' },
      { source_labels: ['__meta_kubernetes_pod_name'], target_label: 'pod' },
      { action: 'labelmap', regex: `${label('sluice.dev/proxy-')}(${OWNER_KINDS.join('|')})`, replacement: '$1' },
      { source_labels: [label('sluice.dev/proxy-job')], target_label: 'k8s_job' },
    ],
  };
  return stringify([job]);
}
