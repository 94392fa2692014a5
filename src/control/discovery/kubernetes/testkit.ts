// Test harness: a FakeKube, a KubernetesDiscovery on it through the real client, a log that remembers,
// and recorders for listener updates. Used by this folder's tests only.
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { FakeKube } from '../../../../test/fake-kube/server.ts';
import type { FakeKubeOptions } from '../../../../test/fake-kube/server.ts';
import { kubeConfigFor } from '../../../../test/fake-kube/client.ts';
import type { LogFields } from '../../../log/logger.ts';
import type { Endpoint, ServiceState } from '../types.ts';
import { canonical, KubernetesDiscovery } from './kubernetes-discovery.ts';
import type { KubernetesDiscoveryOptions } from './kubernetes-discovery.ts';
import type { Log } from './informers.ts';

export interface LogLine {
  readonly level: string;
  readonly msg: string;
  readonly fields: LogFields;
}

export class MemoryLog implements Log {
  readonly lines: LogLine[] = [];
  debug(msg: string, fields: LogFields = {}): void {
    this.lines.push({ level: 'debug', msg, fields });
  }
  info(msg: string, fields: LogFields = {}): void {
    this.lines.push({ level: 'info', msg, fields });
  }
  warn(msg: string, fields: LogFields = {}): void {
    this.lines.push({ level: 'warn', msg, fields });
  }
  error(msg: string, fields: LogFields = {}): void {
    this.lines.push({ level: 'error', msg, fields });
  }
  matching(msg: string): LogLine[] {
    return this.lines.filter((l) => l.msg.includes(msg));
  }
}

/** Every resource the discovery watches. */
export const WATCHED = 8;

export async function until(what: string, cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Collects the states a listener receives. */
export class Recorder<S> {
  readonly states: S[] = [];
  readonly onUpdate = (state: S): void => {
    this.states.push(state);
  };

  get last(): S | undefined {
    return this.states.at(-1);
  }

  /** Waits until the latest state satisfies `cond`, and returns it. */
  async until(what: string, cond: (state: S) => boolean, timeoutMs = 5000): Promise<S> {
    await until(what, () => this.states.length > 0 && cond(this.states.at(-1) as S), timeoutMs);
    return this.states.at(-1) as S;
  }

  /** No two consecutive updates are equal. */
  assertNoRepeats(): void {
    for (let i = 1; i < this.states.length; i++) {
      assert.notEqual(canonical(this.states[i]), canonical(this.states[i - 1]), `update ${i} repeats update ${i - 1}`);
    }
  }
}

export function addresses(state: ServiceState | undefined): string[] | 'not-found' | undefined {
  if (!state) return undefined;
  return state.kind === 'not-found' ? 'not-found' : state.endpoints.map((e) => `${e.ip}:${e.port}`);
}

export function endpointsOf(state: ServiceState | undefined): readonly Endpoint[] {
  return state?.kind === 'endpoints' ? state.endpoints : [];
}

export interface Harness {
  readonly fake: FakeKube;
  readonly discovery: KubernetesDiscovery;
  readonly log: MemoryLog;
  /** Waits until every informer has its watch open on the fake server. */
  steady(): Promise<void>;
}

/**
 * Starts a fake server (seeded by `seed` before discovery starts) and a discovery on it; both are
 * closed after the test. Restart backoff is short so that recovery tests run fast.
 */
export async function harness(
  t: TestContext,
  seed: (fake: FakeKube) => void = () => {},
  options: { fake?: FakeKubeOptions; discovery?: KubernetesDiscoveryOptions } = {},
): Promise<Harness> {
  const fake = await FakeKube.start(options.fake);
  seed(fake);
  const log = new MemoryLog();
  const discovery = new KubernetesDiscovery(kubeConfigFor(fake), { restartBackoff: { initialMs: 20, maxMs: 200 }, log, ...options.discovery });
  t.after(async () => {
    discovery.close();
    await fake.close();
  });
  const steady = (): Promise<void> => until('all watches open', () => fake.openWatches === WATCHED);
  return { fake, discovery, log, steady };
}
