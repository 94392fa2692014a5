// FileDiscovery: services, endpoints, pods and ServiceProfiles from a YAML file (format in README.md),
// reloaded when the file changes. Changes are noticed by fs.watch on the file's directory (which also
// sees editors that save by rename and Kubernetes ConfigMap symlink swaps) and, as a fallback, by
// polling the file's stat. An edit that does not parse or validate is logged with its line and column
// and the last good state stays in force.
import type { PolicyResources } from '../../policy/resources.ts';
import fs from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../../../log/logger.ts';
import { canonicalIp } from '../../destination/addr.ts';
import type { DiscoveryBackend, PodInfo, ProfileSpec, ServiceName, ServiceState } from '../types.ts';
import { EMPTY_MODEL, parseDiscoveryFile, serviceState, type DiscoveryModel, type ParseOptions } from './parse.ts';

/** Used when no file is given: a mesh with nothing in it. */
export const EMBEDDED_DEFAULT = `# Sluice file discovery: the embedded default (no services).
namespaces: {}
`;

export interface FileDiscoveryOptions extends ParseOptions {
  /** The YAML file; undefined = EMBEDDED_DEFAULT, not watched. */
  readonly path: string | undefined;
  readonly log: Logger;
  /** Stat polling interval of the fallback watcher (default 2000 ms). */
  readonly pollIntervalMs?: number;
  /** How long to wait for a burst of file events to settle before reading (default 50 ms). */
  readonly debounceMs?: number;
  /** Use fs.watch (default true); false leaves only the stat polling (tests of the fallback). */
  readonly fsWatch?: boolean;
}

interface Watcher<T> {
  active: boolean;
  /** JSON of the last value delivered; undefined before the first. */
  last: string | undefined;
  readonly compute: (model: DiscoveryModel) => T;
  readonly onUpdate: (value: T) => void;
}

export class FileDiscovery implements DiscoveryBackend {
  private readonly options: FileDiscoveryOptions;
  private readonly log: Logger;
  private model: DiscoveryModel = EMPTY_MODEL;
  private lastText: string | undefined;
  private loaded = false;
  private closed = false;
  private readonly watchers = new Set<Watcher<unknown>>();
  private readonly podListeners = new Set<() => void>();
  private readonly readyPromise: Promise<void>;
  private dirWatcher: fs.FSWatcher | undefined;
  private readonly statListener = (current: fs.Stats, previous: fs.Stats): void => {
    if (current.mtimeMs !== previous.mtimeMs || current.size !== previous.size || current.ino !== previous.ino) {
      this.schedule();
    }
  };
  private debounce: NodeJS.Timeout | undefined;
  private reloading: Promise<void> | undefined;
  private reloadAgain = false;
  /** Counts successful loads that changed the model (for tests and logs). */
  generation = 0;

  constructor(options: FileDiscoveryOptions) {
    this.options = options;
    this.log = options.log;
    if (options.path === undefined) {
      this.apply(parseDiscoveryFile(EMBEDDED_DEFAULT, '<embedded default>', options), EMBEDDED_DEFAULT);
      this.readyPromise = Promise.resolve();
      return;
    }
    const file = options.path;
    this.readyPromise = readFile(file, 'utf8').then(
      (text) => {
        // The first load must succeed: a controller should not start on a broken file.
        this.apply(parseDiscoveryFile(text, file, options), text);
        this.log.info('discovery file loaded', this.summary(file));
        this.watch(file);
      },
      (error: NodeJS.ErrnoException) => {
        throw new Error(`cannot read discovery file ${file}: ${error.code ?? error.message}`);
      },
    );
    // ready() reports a failure; keep an unobserved rejection from crashing the process first.
    this.readyPromise.catch(() => {});
  }

  ready(): Promise<void> {
    return this.readyPromise;
  }

  watchService(name: ServiceName, port: number, onUpdate: (state: ServiceState) => void): () => void {
    return this.addWatcher<ServiceState>(
      (model) => serviceState(model, name.namespace, name.service, port, this.options),
      onUpdate,
    );
  }

  watchProfile(name: ServiceName, onUpdate: (profile: ProfileSpec | undefined) => void): () => void {
    return this.watchProfileIn(name.namespace, name, onUpdate);
  }

  /** The profile for `name` as defined in `profileNamespace` (a client's namespace); see destination. */
  watchProfileIn(
    profileNamespace: string,
    name: ServiceName,
    onUpdate: (profile: ProfileSpec | undefined) => void,
  ): () => void {
    const fqdn = `${name.service}.${name.namespace}.svc.${this.options.clusterDomain}`;
    return this.addWatcher<ProfileSpec | undefined>((model) => model.profiles.get(`${profileNamespace}/${fqdn}`), onUpdate);
  }

  /** The Service whose cluster IP this is (canonical or not), if any. */
  serviceForIp(ip: string): ServiceName | undefined {
    try {
      return this.model.serviceIps.get(canonicalIp(ip));
    } catch {
      return undefined;
    }
  }

  /** Calls `onChange` after a reload that changed the pod list or the Services' cluster IPs. */
  watchPods(onChange: () => void): () => void {
    const listener = (): void => onChange();
    this.podListeners.add(listener);
    return () => this.podListeners.delete(listener);
  }

  pods(): readonly PodInfo[] {
    return this.model.pods;
  }

  /** The file's Server and ServerAuthorization resources, now and after every reload that changes them or the pods. */
  watchPolicy(onChange: (resources: PolicyResources) => void): () => void {
    // Pods are part of the answer (a Server selects them by label): a change to either is delivered.
    return this.addWatcher((model) => [model.policy, model.pods] as const, ([policy]) => onChange(policy));
  }

  /** Open watches (services and profiles), to check that streams release theirs. */
  get watcherCount(): number {
    return this.watchers.size + this.podListeners.size;
  }

  close(): void {
    this.closed = true;
    if (this.options.path !== undefined) fs.unwatchFile(this.options.path, this.statListener);
    this.dirWatcher?.close();
    this.dirWatcher = undefined;
    clearTimeout(this.debounce);
    for (const watcher of this.watchers) watcher.active = false;
    this.watchers.clear();
    this.podListeners.clear();
  }

  /** Reads the file now (normally done on change); resolves when the result has been applied. */
  async reload(): Promise<void> {
    if (this.reloading !== undefined) {
      this.reloadAgain = true;
      return this.reloading;
    }
    this.reloading = (async () => {
      do {
        this.reloadAgain = false;
        await this.readAndApply();
      } while (this.reloadAgain && !this.closed);
    })().finally(() => {
      this.reloading = undefined;
    });
    return this.reloading;
  }

  private addWatcher<T>(compute: (model: DiscoveryModel) => T, onUpdate: (value: T) => void): () => void {
    const watcher: Watcher<T> = { active: true, last: undefined, compute, onUpdate };
    this.watchers.add(watcher as Watcher<unknown>);
    // Deliver the current state soon, but never from inside this call (the caller has no stop function yet).
    if (this.loaded) queueMicrotask(() => this.deliver(watcher));
    return () => {
      watcher.active = false;
      this.watchers.delete(watcher as Watcher<unknown>);
    };
  }

  private deliver<T>(watcher: Watcher<T>): void {
    if (!watcher.active || this.closed) return;
    const value = watcher.compute(this.model);
    const json = JSON.stringify(value) ?? 'undefined';
    if (json === watcher.last) return;
    watcher.last = json;
    try {
      watcher.onUpdate(value);
    } catch (error) {
      this.log.error('discovery watcher failed', { error: (error as Error).message });
    }
  }

  private apply(model: DiscoveryModel, text: string): void {
    const addresses = (m: DiscoveryModel): string => JSON.stringify([m.pods, [...m.serviceIps]]);
    const addressesBefore = addresses(this.model);
    this.model = model;
    this.lastText = text;
    this.loaded = true;
    this.generation++;
    for (const watcher of [...this.watchers]) this.deliver(watcher);
    if (addresses(model) !== addressesBefore) {
      for (const listener of [...this.podListeners]) listener();
    }
  }

  private summary(file: string): Record<string, string | number> {
    return {
      path: file,
      namespaces: this.model.namespaces.size,
      services: this.model.services.size,
      pods: this.model.pods.length,
      profiles: this.model.profiles.size,
    };
  }

  private watch(file: string): void {
    if (this.closed) return;
    if (this.options.fsWatch !== false) this.watchDirectory(file);
    fs.watchFile(file, { persistent: false, interval: this.options.pollIntervalMs ?? 2000 }, this.statListener);
  }

  private watchDirectory(file: string): void {
    try {
      this.dirWatcher = fs.watch(path.dirname(file), { persistent: false }, () => this.schedule());
      this.dirWatcher.on('error', (error) => {
        this.log.debug('fs.watch failed; polling the discovery file', { error: error.message });
        this.dirWatcher?.close();
        this.dirWatcher = undefined;
      });
    } catch (error) {
      this.log.debug('fs.watch unavailable; polling the discovery file', { error: (error as Error).message });
    }
  }

  private schedule(): void {
    if (this.closed) return;
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => void this.reload(), this.options.debounceMs ?? 50);
    this.debounce.unref();
  }

  private async readAndApply(): Promise<void> {
    const file = this.options.path;
    if (file === undefined || this.closed) return;
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      this.log.warn('cannot read the discovery file; keeping the last good state', { path: file, error: code });
      return;
    }
    if (text === this.lastText || this.closed) return;
    let model: DiscoveryModel;
    try {
      model = parseDiscoveryFile(text, file, this.options);
    } catch (error) {
      // Do not try the same text again until it changes.
      this.lastText = text;
      this.log.error('discovery file rejected; keeping the last good state', {
        path: file,
        error: (error as Error).message,
      });
      return;
    }
    this.apply(model, text);
    this.log.info('discovery file reloaded', this.summary(file));
  }
}
