// The scrape job for the Prometheus backend: finds proxies by their container and admin port, labels
// series as the controller's queries expect, and is a configuration Prometheus itself accepts.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { missingTools, requirementsMet } from '../../test/support/requirements.ts';
import { renderInstall } from '../cli/install.ts';
import { proxyScrapeConfig, SCRAPE_JOB } from './prometheus-scrape.ts';

describe('proxyScrapeConfig', () => {
  const jobs = parse(proxyScrapeConfig({ controlPlaneNamespace: 'sluice' })) as Array<Record<string, unknown>>;
  const job = jobs[0] as { job_name: string; scrape_interval: string; relabel_configs: Array<Record<string, unknown>> };

  it('keeps only the proxy container’s sluice-admin port of pods meshed by this control plane', () => {
    assert.equal(job.job_name, SCRAPE_JOB);
    assert.equal(job.scrape_interval, '10s');
    const keep = job.relabel_configs[0];
    assert.equal(keep?.['action'], 'keep');
    assert.deepEqual(keep?.['source_labels'], ['__meta_kubernetes_pod_container_name', '__meta_kubernetes_pod_container_port_name', '__meta_kubernetes_pod_label_sluice_dev_control_plane_ns']);
    const regex = new RegExp(String(keep?.['regex']));
    assert.ok(regex.test('sluice-proxy;sluice-admin;sluice'));
    assert.ok(!regex.test('app;http;sluice'));
    assert.ok(!regex.test('sluice-proxy;sluice-admin;other'));
  });

  it('labels series with namespace, pod and the owner the controller groups by (k8s_job for a Job)', () => {
    const targets = job.relabel_configs.map((r) => r['target_label']).filter((t) => t !== undefined);
    assert.deepEqual(targets, ['namespace', 'pod', 'k8s_job']);
    const labelmap = job.relabel_configs.find((r) => r['action'] === 'labelmap');
    const regex = new RegExp(`^${String(labelmap?.['regex'])}$`);
    assert.equal('__meta_kubernetes_pod_label_sluice_dev_proxy_deployment'.replace(regex, String(labelmap?.['replacement']).replace('$1', '$1')), 'deployment');
    assert.ok(!regex.test('__meta_kubernetes_pod_label_sluice_dev_proxy_job'), 'job must not be mapped onto the scrape job label');
  });

  // Debian's Prometheus is built without Kubernetes service discovery, so its promtool checks the job
  // with the discovery replaced by a static target: everything else (relabelling, intervals) is checked.
  it('is a configuration promtool accepts (relabelling and all; discovery swapped for a static target)', (t) => {
    if (!requirementsMet(t, missingTools([['promtool', ['--version']]]))) return;
    const dir = mkdtempSync(join(tmpdir(), 'sluice-scrape-'));
    try {
      const file = join(dir, 'prometheus.yml');
      const scrape = proxyScrapeConfig({ controlPlaneNamespace: 'sluice', scrapeInterval: '5s' })
        .replace(/kubernetes_sd_configs:\n\s+- role: pod/, "static_configs:\n    - targets: ['127.0.0.1:4191']")
        .split('\n')
        .map((line) => (line === '' ? '' : `  ${line}`))
        .join('\n');
      writeFileSync(file, `scrape_configs:\n${scrape}`);
      const check = spawnSync('promtool', ['check', 'config', file], { encoding: 'utf8', timeout: 20_000 });
      assert.equal(check.status, 0, `${check.stdout}\n${check.stderr}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is what `sluice install --prometheus-scrape-config` prints, for the control plane namespace given', async () => {
    const printed = await renderInstall(['--prometheus-scrape-config', '--control-plane-namespace', 'mesh']);
    assert.equal(typeof printed, 'string');
    assert.match(String(printed), /job_name: sluice-proxy/);
    assert.match(String(printed), /regex: \^sluice-proxy;sluice-admin;mesh\$/);
    assert.doesNotMatch(String(printed), /kind: Deployment/);
  });
});
