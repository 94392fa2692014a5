// One informer (list + watch + cache) per resource, on client-node's ListWatch, made to keep going.
//
// What client-node 2.0.1 does by itself: on a watch that ends cleanly it re-watches from the last
// resourceVersion; on 410 Expired it lists again (firing add/update/delete for the difference).
// What it does not: after any other error (connection reset, 5xx, refused) it calls its `error`
// handlers and stops for good. This wrapper restarts it with exponential backoff and logs each
// restart; a restart resumes from the last resourceVersion, or lists again if there is none or the
// server answers 410. Two client-node gaps are also closed here: a watch that opens after `stop()`
// (stop during the connect or the reconnect delay) is aborted, and a watch call that throws (e.g. an
// auth plugin failing) becomes an error instead of an unhandled rejection.
import { ListWatch, Watch } from '@kubernetes/client-node';
import type { KubeConfig, KubernetesListObject, KubernetesObject } from '@kubernetes/client-node';
import type { LogFields } from '../../../log/logger.ts';

export interface Log {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

export interface Backoff {
  readonly initialMs: number;
  readonly maxMs: number;
}

export type ChangeKind = 'add' | 'update' | 'delete';

export interface InformerOptions<T extends KubernetesObject> {
  readonly kubeConfig: KubeConfig;
  /** For logs: `pods`, `services` … */
  readonly resource: string;
  /** The API path to watch, e.g. `/api/v1/pods`. */
  readonly path: string;
  readonly list: () => Promise<KubernetesListObject<T>>;
  /** Narrows the watch (the list function applies its own), e.g. `metadata.name=sluice-identity-issuer`. */
  readonly fieldSelector?: string;
  readonly onChange: (object: T, change: ChangeKind) => void;
  readonly backoff: Backoff;
  readonly log: Log;
}

/**
 * Asks for bookmarks (they keep a quiet watch's resourceVersion fresh), reports that a watch delivers
 * something (bookmarks included), and refuses to run once closed.
 */
class GuardedWatch extends Watch {
  closed = false;
  onActivity: () => void = () => {};

  override async watch(
    path: string,
    query: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: any, watchObj?: any) => void,
    done: (err: any) => void,
  ): Promise<AbortController> {
    const aborted = (): AbortController => {
      const controller = new AbortController();
      controller.abort();
      return controller;
    };
    if (this.closed) return aborted();
    let controller: AbortController;
    try {
      const relay = (phase: string, apiObj: any, watchObj?: any): void => {
        this.onActivity();
        callback(phase, apiObj, watchObj);
      };
      controller = await super.watch(path, { ...query, allowWatchBookmarks: true }, relay, done);
    } catch (err) {
      done(err);
      return aborted();
    }
    if (this.closed) controller.abort();
    return controller;
  }
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as Error & { statusCode?: number; code?: unknown }).statusCode ?? (err as { code?: unknown }).code;
    return code === undefined ? `${err.name}: ${err.message}` : `${err.name}: ${err.message} (${String(code)})`;
  }
  return String(err);
}

export class ResilientInformer<T extends KubernetesObject> {
  /** Resolves once the first list has been applied to the cache. */
  readonly synced: Promise<void>;
  readonly resource: string;
  /** How many times this wrapper restarted the informer after an error (for tests and metrics). */
  restarts = 0;
  /** How many lists completed (the first, then each re-list after 410 or a restart without a version). */
  lists = 0;
  private readonly options: InformerOptions<T>;
  private readonly watch: GuardedWatch;
  private readonly informer: ListWatch<T>;
  private readonly timers = new Set<NodeJS.Timeout>();
  private restartPending = false;
  /** Failures since the informer last made progress (a list, or anything received on a watch). */
  private failures = 0;
  private closed = false;
  private markSynced: () => void = () => {};

  constructor(options: InformerOptions<T>) {
    this.options = options;
    this.resource = options.resource;
    this.synced = new Promise((resolve) => (this.markSynced = resolve));
    this.watch = new GuardedWatch(options.kubeConfig);
    this.watch.onActivity = () => (this.failures = 0);
    const list = async (): Promise<KubernetesListObject<T>> => {
      const result = await options.list();
      // ListWatch applies the list to its cache synchronously once this promise settles; by the next
      // macrotask it is done.
      setImmediate(() => this.listed(result));
      return result;
    };
    this.informer = new ListWatch<T>(options.path, this.watch, list, false, undefined, options.fieldSelector, { delayFn: (ms) => this.delay(ms) });
    for (const change of ['add', 'update', 'delete'] as const) {
      this.informer.on(change, (object: T) => {
        if (!this.closed) options.onChange(object, change);
      });
    }
    this.informer.on('error', (err?: unknown) => this.failed(err));
  }

  start(): void {
    if (this.closed) return;
    this.informer.start().catch((err: unknown) => this.failed(err));
  }

  close(): void {
    this.closed = true;
    this.watch.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    void this.informer.stop();
  }

  get(name: string, namespace?: string): T | undefined {
    return this.informer.get(name, namespace);
  }

  list(namespace?: string): readonly T[] {
    return this.informer.list(namespace);
  }

  get resourceVersion(): string {
    return this.informer.latestResourceVersion();
  }

  private listed(result: KubernetesListObject<T>): void {
    if (this.closed) return;
    this.lists++;
    this.failures = 0;
    const fields = { resource: this.options.resource, items: result.items.length, resourceVersion: result.metadata?.resourceVersion };
    if (this.lists === 1) this.options.log.debug('informer synced', fields);
    else this.options.log.info('informer re-listed', fields);
    this.markSynced();
  }

  /** A timer this class can cancel; once closed the promise never settles, so ListWatch goes no further. */
  private delay(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        resolve();
      }, ms);
      this.timers.add(timer);
    });
  }

  private failed(err: unknown): void {
    if (this.closed || this.restartPending) return;
    const { initialMs, maxMs } = this.options.backoff;
    const delayMs = Math.round(Math.min(maxMs, initialMs * 2 ** this.failures) * (0.8 + Math.random() * 0.4));
    this.failures++;
    this.restartPending = true;
    this.options.log.warn('watch failed; restarting informer', {
      resource: this.options.resource,
      error: describe(err),
      attempt: this.failures,
      delayMs,
      resourceVersion: this.informer.latestResourceVersion() || undefined,
    });
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.restartPending = false;
      this.restarts++;
      this.start();
    }, delayMs);
    this.timers.add(timer);
  }
}
