// Shares one control-plane watch per destination among every worker that routes to it. A worker asks
// for a destination once and from then on receives its state on every change (and the latest state at
// once, if it is already known); when the last worker has released it (each releases a destination it
// has not used for the outbound discovery idle timeout), the watch and its streams are closed.
import type { Logger } from '../log/logger.ts';
import type { DiscoveryState } from '../workers/discovery/state.ts';

export interface Watcher {
  watch(authority: string, listener: (state: DiscoveryState) => void): () => void;
}

export type Push = (authority: string, state: DiscoveryState) => void;

interface Entry {
  readonly subscribers: Map<number, Push>;
  state: DiscoveryState | undefined;
  stop: () => void;
}

/** `host:port` and nothing else; a worker that sends something longer is mistaken. */
const MAX_AUTHORITY_LENGTH = 1100;

export class DiscoveryHub {
  private readonly watcher: Watcher;
  private readonly log: Logger;
  private readonly entries = new Map<string, Entry>();

  constructor(watcher: Watcher, log: Logger) {
    this.watcher = watcher;
    this.log = log;
  }

  /** Destinations watched right now. */
  get size(): number {
    return this.entries.size;
  }

  subscribe(subscriber: number, authority: string, push: Push): void {
    if (typeof authority !== 'string' || authority === '' || authority.length > MAX_AUTHORITY_LENGTH) return;
    let entry = this.entries.get(authority);
    if (entry === undefined) {
      const created: Entry = { subscribers: new Map(), state: undefined, stop: () => {} };
      this.entries.set(authority, created);
      this.log.debug('watching destination', { authority });
      created.stop = this.watcher.watch(authority, (state) => {
        created.state = state;
        for (const send of created.subscribers.values()) send(authority, state);
      });
      entry = created;
    }
    entry.subscribers.set(subscriber, push);
    if (entry.state !== undefined) push(authority, entry.state);
  }

  unsubscribe(subscriber: number, authority: string): void {
    const entry = this.entries.get(authority);
    if (entry === undefined || !entry.subscribers.delete(subscriber)) return;
    if (entry.subscribers.size > 0) return;
    this.entries.delete(authority);
    this.log.debug('destination unused; closing its streams', { authority });
    entry.stop();
  }

  /** A worker went away (it died and was replaced): everything it held is released. */
  dropSubscriber(subscriber: number): void {
    for (const [authority, entry] of [...this.entries]) if (entry.subscribers.has(subscriber)) this.unsubscribe(subscriber, authority);
  }

  close(): void {
    for (const entry of this.entries.values()) entry.stop();
    this.entries.clear();
  }
}
