// The main thread's sharing of destination watches among workers, with a fake watcher.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Logger } from '../log/logger.ts';
import type { DiscoveryState } from '../workers/discovery/state.ts';
import { DiscoveryHub, type Watcher } from './discovery-hub.ts';

class FakeWatcher implements Watcher {
  readonly active = new Map<string, (state: DiscoveryState) => void>();
  started = 0;
  watch(authority: string, listener: (state: DiscoveryState) => void): () => void {
    this.started++;
    this.active.set(authority, listener);
    return () => this.active.delete(authority);
  }
  emit(authority: string, state: DiscoveryState): void {
    this.active.get(authority)?.(state);
  }
}

const quiet = new Logger('error', 'plain', 'test', () => {});
const resolved: DiscoveryState = { kind: 'resolved', endpoints: [{ host: '10.0.0.1', port: 80, labels: {} }], profile: undefined };

describe('DiscoveryHub', () => {
  it('opens one watch per destination, however many workers ask, and pushes every change to each', () => {
    const watcher = new FakeWatcher();
    const hub = new DiscoveryHub(watcher, quiet);
    const got: Array<[number, string, string]> = [];
    const push = (worker: number) => (authority: string, state: DiscoveryState) => got.push([worker, authority, state.kind]);
    hub.subscribe(0, 'web:80', push(0));
    hub.subscribe(1, 'web:80', push(1));
    assert.equal(watcher.started, 1);
    watcher.emit('web:80', resolved);
    assert.deepEqual(got, [
      [0, 'web:80', 'resolved'],
      [1, 'web:80', 'resolved'],
    ]);
  });

  it('gives a late subscriber the latest state at once', () => {
    const watcher = new FakeWatcher();
    const hub = new DiscoveryHub(watcher, quiet);
    hub.subscribe(0, 'web:80', () => {});
    watcher.emit('web:80', resolved);
    const got: string[] = [];
    hub.subscribe(1, 'web:80', (_, state) => got.push(state.kind));
    assert.deepEqual(got, ['resolved']);
  });

  it('stops the watch when the last worker releases it, or dies', () => {
    const watcher = new FakeWatcher();
    const hub = new DiscoveryHub(watcher, quiet);
    hub.subscribe(0, 'web:80', () => {});
    hub.subscribe(1, 'web:80', () => {});
    hub.subscribe(1, 'api:80', () => {});
    hub.unsubscribe(0, 'web:80');
    assert.equal(watcher.active.size, 2);
    hub.dropSubscriber(1);
    assert.equal(watcher.active.size, 0);
    assert.equal(hub.size, 0);
    hub.unsubscribe(7, 'nothing:80'); // harmless
  });

  it('ignores authorities no worker would send', () => {
    const watcher = new FakeWatcher();
    const hub = new DiscoveryHub(watcher, quiet);
    hub.subscribe(0, '', () => {});
    hub.subscribe(0, 'x'.repeat(5000), () => {});
    assert.equal(watcher.started, 0);
  });
});
