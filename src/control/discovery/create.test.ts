import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Logger } from '../../log/logger.ts';
import { controllerDefaults, type ControllerConfig } from '../config.ts';
import { createDiscovery } from './create.ts';

const quiet = new Logger('error', 'plain', 'test', () => {});
const config = (over: Partial<ControllerConfig>): ControllerConfig => ({
  ...controllerDefaults(),
  proxyApiAddr: { host: '127.0.0.1', port: 0 },
  publicApiAddr: { host: '127.0.0.1', port: 0 },
  adminAddr: { host: '127.0.0.1', port: 0 },
  peers: { kind: 'none' },
  podIp: undefined,
  discovery: 'file',
  discoveryFile: undefined,
  clusterDomain: 'cluster.local',
  controlPlaneNamespace: 'sluice',
  trustDomain: 'cluster.local',
  logLevel: 'error',
  logFormat: 'plain',
  ...over,
});

describe('createDiscovery', () => {
  test('file mode without a file: the embedded empty default', async () => {
    const discovery = await createDiscovery(config({}), quiet, {});
    await discovery.ready();
    assert.equal(discovery.constructor.name, 'FileDiscovery');
    assert.deepEqual(discovery.pods(), []);
    discovery.close();
  });

  test('file mode never loads the Kubernetes client', () => {
    // A child process records every module it resolves, then creates a file backend.
    const script = `
      import { registerHooks } from 'node:module';
      const seen = [];
      registerHooks({ resolve(specifier, context, next) { seen.push(specifier); return next(specifier, context); } });
      const { createDiscovery } = await import(${JSON.stringify(new URL('./create.ts', import.meta.url).href)});
      const { Logger } = await import(${JSON.stringify(new URL('../../log/logger.ts', import.meta.url).href)});
      const d = await createDiscovery({ discovery: 'file', discoveryFile: undefined, clusterDomain: 'cluster.local',
        controlPlaneNamespace: 'sluice', trustDomain: 'cluster.local' }, new Logger('error', 'plain', 't', () => {}), {});
      await d.ready();
      d.close();
      console.log(JSON.stringify(seen));
    `;
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    assert.equal(result.status, 0, result.stderr);
    const seen = JSON.parse(result.stdout) as string[];
    assert.ok(seen.some((s) => s.includes('file-discovery.ts')), 'the file backend was loaded');
    assert.deepEqual(seen.filter((s) => s.includes('kubernetes')), []);
  });

  test('a file that cannot be used is fatal, with its position', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sluice-create-'));
    try {
      const file = path.join(dir, 'mesh.yaml');
      writeFileSync(file, 'namespaces:\n  ns:\n    services:\n      web: {ports: [http]}\n');
      let reason = '';
      const fatal = (error: Error): never => {
        reason = error.message;
        throw error;
      };
      await assert.rejects(createDiscovery(config({ discoveryFile: file }), quiet, {}, fatal));
      assert.match(reason, /mesh\.yaml:4:21: a port is a number/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('kubernetes mode: KUBECONFIG, else ~/.kube/config, else a clear error', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sluice-create-'));
    try {
      const kubeconfig = path.join(dir, 'kubeconfig');
      writeFileSync(
        kubeconfig,
        JSON.stringify({
          apiVersion: 'v1',
          kind: 'Config',
          clusters: [{ name: 'c', cluster: { server: 'http://127.0.0.1:9' } }],
          users: [{ name: 'u', user: {} }],
          contexts: [{ name: 'ctx', context: { cluster: 'c', user: 'u' } }],
          'current-context': 'ctx',
        }),
      );
      const discovery = await createDiscovery(config({ discovery: 'kubernetes' }), quiet, { KUBECONFIG: kubeconfig });
      assert.equal(discovery.constructor.name, 'KubernetesDiscovery');
      discovery.close();
      const fatal = (error: Error): never => {
        throw error;
      };
      await assert.rejects(
        createDiscovery(config({ discovery: 'kubernetes' }), quiet, { HOME: dir }, fatal),
        /no cluster configuration/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
