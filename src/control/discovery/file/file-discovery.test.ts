import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Logger } from '../../../log/logger.ts';
import type { ProfileSpec, ServiceState } from '../types.ts';
import { FileDiscovery, type FileDiscoveryOptions } from './file-discovery.ts';

const FIXTURE = readFileSync(new URL('./testdata/emojivoto.yaml', import.meta.url), 'utf8');
const WEB = { namespace: 'emojivoto', service: 'web-svc' };

/** Waits until `condition` holds (events arrive when the OS delivers them; no fixed sleeps). */
async function until(condition: () => boolean, what: string): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > 20_000) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const ips = (state: ServiceState | undefined): string[] =>
  state?.kind === 'endpoints' ? state.endpoints.map((e) => `${e.ip}:${e.port}`) : [String(state?.kind)];

describe('FileDiscovery', () => {
  let dir: string;
  let file: string;
  let logs: string[];
  let backend: FileDiscovery | undefined;

  const start = async (extra: Partial<FileDiscoveryOptions> = {}): Promise<FileDiscovery> => {
    backend = new FileDiscovery({
      path: file,
      clusterDomain: 'cluster.local',
      controlPlaneNamespace: 'sluice',
      trustDomain: 'cluster.local',
      log: new Logger('debug', 'plain', 'test', (line) => logs.push(line)),
      pollIntervalMs: 100,
      debounceMs: 10,
      ...extra,
    });
    await backend.ready();
    return backend;
  };

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'sluice-file-discovery-'));
    file = path.join(dir, 'mesh.yaml');
    logs = [];
    writeFileSync(file, FIXTURE);
  });
  afterEach(() => {
    backend?.close();
    backend = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  test('undefined path: the embedded empty default', async () => {
    const empty = new FileDiscovery({
      path: undefined,
      clusterDomain: 'cluster.local',
      controlPlaneNamespace: 'sluice',
      trustDomain: 'cluster.local',
      log: new Logger('error', 'plain', 'test', () => {}),
    });
    await empty.ready();
    const states: ServiceState[] = [];
    empty.watchService(WEB, 80, (s) => states.push(s));
    await until(() => states.length === 1, 'the first state');
    assert.deepEqual(states, [{ kind: 'not-found' }]);
    assert.deepEqual(empty.pods(), []);
    empty.close();
  });

  test('the first state is delivered after watchService returns, never inside it', async () => {
    const discovery = await start();
    let returned = false;
    let deliveredEarly = false;
    const states: ServiceState[] = [];
    discovery.watchService(WEB, 80, (s) => {
      deliveredEarly ||= !returned;
      states.push(s);
    });
    returned = true;
    await until(() => states.length === 1, 'the first state');
    assert.equal(deliveredEarly, false);
    assert.deepEqual(ips(states[0]), ['10.42.0.11:8080', 'fd00::11:8080']);
  });

  test('an edit reaches the watchers (fs.watch); unrelated edits do not', async () => {
    const discovery = await start({ pollIntervalMs: 60_000 });
    const web: ServiceState[] = [];
    const legacy: ServiceState[] = [];
    discovery.watchService(WEB, 80, (s) => web.push(s));
    discovery.watchService({ namespace: 'emojivoto', service: 'legacy' }, 80, (s) => legacy.push(s));
    await until(() => web.length === 1 && legacy.length === 1, 'the first states');
    writeFileSync(file, FIXTURE.replace('ip: 10.42.0.11', 'ip: 10.42.0.12'));
    await until(() => web.length === 2, 'the update');
    assert.deepEqual(ips(web[1]), ['10.42.0.12:8080', 'fd00::11:8080']);
    assert.equal(legacy.length, 1);
    assert.ok(logs.some((l) => l.includes('discovery file reloaded')));
  });

  test('a save by rename (editors, ConfigMap swaps) is seen', async () => {
    const discovery = await start({ pollIntervalMs: 60_000 });
    const web: ServiceState[] = [];
    discovery.watchService(WEB, 80, (s) => web.push(s));
    await until(() => web.length === 1, 'the first state');
    const temp = path.join(dir, '.mesh.yaml.tmp');
    writeFileSync(temp, FIXTURE.replace(/ {10}- pod: web-5d8f-fghij[\s\S]*?meshed: true\n/, ''));
    renameSync(temp, file);
    await until(() => web.length === 2, 'the update');
    assert.deepEqual(ips(web[1]), ['10.42.0.11:8080']);
  });

  test('the stat-polling fallback alone notices changes', async () => {
    const discovery = await start({ fsWatch: false, pollIntervalMs: 20 });
    const web: ServiceState[] = [];
    discovery.watchService(WEB, 80, (s) => web.push(s));
    await until(() => web.length === 1, 'the first state');
    writeFileSync(file, FIXTURE.replace('80:8080', '80:8081'));
    await until(() => web.length === 2, 'the update');
    assert.deepEqual(ips(web[1]), ['10.42.0.11:8081', 'fd00::11:8081']);
  });

  test('a bad edit is logged with line and column and the last good state stays', async () => {
    const discovery = await start();
    const web: ServiceState[] = [];
    discovery.watchService(WEB, 80, (s) => web.push(s));
    await until(() => web.length === 1, 'the first state');
    const generation = discovery.generation;
    writeFileSync(file, FIXTURE.replace('ip: 10.42.0.11', 'ip: 10.42.0.999'));
    await until(() => logs.some((l) => l.includes('discovery file rejected')), 'the error log');
    const line = logs.find((l) => l.includes('discovery file rejected')) ?? '';
    assert.match(line, /mesh\.yaml:18:17: ip must be an IPv4 or IPv6 address/);
    assert.equal(discovery.generation, generation);
    assert.deepEqual(ips(await serviceNow(discovery)), ['10.42.0.11:8080', 'fd00::11:8080']);
    // Fixing the file applies it.
    writeFileSync(file, FIXTURE.replace('ip: 10.42.0.11', 'ip: 10.42.0.13'));
    await until(() => web.length === 2, 'the update after the fix');
    assert.deepEqual(ips(web[1]), ['10.42.0.13:8080', 'fd00::11:8080']);
  });

  test('a deleted file keeps the last good state', async () => {
    const discovery = await start();
    rmSync(file);
    await discovery.reload();
    assert.ok(logs.some((l) => l.includes('cannot read the discovery file')));
    assert.deepEqual(ips(await serviceNow(discovery)), ['10.42.0.11:8080', 'fd00::11:8080']);
  });

  test('services that appear, empty and disappear', async () => {
    const discovery = await start();
    const states: ServiceState[] = [];
    discovery.watchService({ namespace: 'emojivoto', service: 'new-svc' }, 80, (s) => states.push(s));
    await until(() => states.length === 1, 'the first state');
    const withNew = FIXTURE.replace('      empty: {ports: [80]}', '      empty: {ports: [80]}\n      new-svc: {endpoints: [10.1.1.1]}');
    writeFileSync(file, withNew);
    await until(() => states.length === 2, 'created');
    writeFileSync(file, withNew.replace('new-svc: {endpoints: [10.1.1.1]}', 'new-svc: {}'));
    await until(() => states.length === 3, 'emptied');
    writeFileSync(file, FIXTURE);
    await until(() => states.length === 4, 'deleted');
    assert.deepEqual(states.map(ips), [['not-found'], ['10.1.1.1:80'], [], ['not-found']]);
  });

  test('profile changes reach profile watchers; namespaced lookups', async () => {
    const discovery = await start();
    const profiles: Array<ProfileSpec | undefined> = [];
    const clientSide: Array<ProfileSpec | undefined> = [];
    discovery.watchProfile(WEB, (p) => profiles.push(p));
    discovery.watchProfileIn('client-ns', WEB, (p) => clientSide.push(p));
    await until(() => profiles.length === 1 && clientSide.length === 1, 'the first profiles');
    assert.equal(profiles[0]?.routes?.[0]?.timeout, '300ms');
    assert.equal(clientSide[0]?.routes?.[0]?.name, 'client-side');
    writeFileSync(file, FIXTURE.replace('timeout: 300ms', 'timeout: 500ms'));
    await until(() => profiles.length === 2, 'the profile update');
    assert.equal(profiles[1]?.routes?.[0]?.timeout, '500ms');
    assert.equal(clientSide.length, 1, 'the client-side profile did not change');
    // Removing the profile: undefined.
    writeFileSync(file, FIXTURE.replace(/ {4}profiles:\n {6}web-svc:\n[\s\S]*?opaquePorts: \[3306\]\n/, ''));
    await until(() => profiles.length === 3, 'the removal');
    assert.equal(profiles[2], undefined);
  });

  test('pods, pod change signals, and stop functions release watches', async () => {
    const discovery = await start();
    assert.equal(discovery.pods().length, 4);
    let podChanges = 0;
    const stops = [
      discovery.watchPods(() => podChanges++),
      discovery.watchService(WEB, 80, () => {}),
      discovery.watchProfile(WEB, () => {}),
    ];
    assert.equal(discovery.watcherCount, 3);
    writeFileSync(file, FIXTURE.replace('ip: 10.42.0.30', 'ip: 10.42.0.31'));
    await until(() => podChanges === 1, 'the pod change signal');
    assert.equal(discovery.pods().find((p) => p.name === 'vote-bot-7f9c-x2x2')?.ip, '10.42.0.31');
    for (const stop of stops) stop();
    assert.equal(discovery.watcherCount, 0);
  });

  test('a file that is missing or invalid at start: ready() rejects with the position', async () => {
    rmSync(file);
    await assert.rejects(start(), /cannot read discovery file .*mesh\.yaml: ENOENT/);
    writeFileSync(file, 'namespaces:\n  ns:\n    services:\n      web: {ports: [http]}\n');
    await assert.rejects(start(), /mesh\.yaml:4:21: a port is a number/);
  });
});

/** The current state of web-svc:80, through a short-lived watch. */
async function serviceNow(discovery: FileDiscovery): Promise<ServiceState | undefined> {
  let state: ServiceState | undefined;
  const stop = discovery.watchService(WEB, 80, (s) => (state = s));
  await until(() => state !== undefined, 'the current state');
  stop();
  return state;
}
