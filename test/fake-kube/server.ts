// A fake Kubernetes API server for tests: real HTTP on 127.0.0.1, an in-memory store, list (selectors,
// paging), get, and watch (resourceVersion, synthetic ADDED, bookmarks, 410 Expired), plus controls a
// test needs: change objects, cut watches, forget history, fail requests, count requests.
// Mutations happen only through the methods here (the HTTP side is read-only: GET), except
// `POST /apis/authentication.k8s.io/v1/tokenreviews`, answered by `reviewTokens` (nothing is stored),
// SubjectAccessReviews, answered by `reviewAccess`, and /version and SelfSubjectAccessReviews, which
// answer what a test set.
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fieldSelector, labelSelector, SelectorError } from './selectors.ts';
import type { Matcher } from './selectors.ts';

export interface ResourceType {
  readonly group: string;
  readonly version: string;
  readonly plural: string;
  readonly kind: string;
  readonly namespaced: boolean;
}

export const RESOURCE_TYPES: readonly ResourceType[] = [
  { group: '', version: 'v1', plural: 'pods', kind: 'Pod', namespaced: true },
  { group: '', version: 'v1', plural: 'services', kind: 'Service', namespaced: true },
  { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false },
  { group: '', version: 'v1', plural: 'secrets', kind: 'Secret', namespaced: true },
  { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap', namespaced: true },
  { group: 'discovery.k8s.io', version: 'v1', plural: 'endpointslices', kind: 'EndpointSlice', namespaced: true },
  { group: 'apps', version: 'v1', plural: 'replicasets', kind: 'ReplicaSet', namespaced: true },
  { group: 'apps', version: 'v1', plural: 'deployments', kind: 'Deployment', namespaced: true },
  { group: 'apps', version: 'v1', plural: 'daemonsets', kind: 'DaemonSet', namespaced: true },
  { group: 'apps', version: 'v1', plural: 'statefulsets', kind: 'StatefulSet', namespaced: true },
  { group: 'batch', version: 'v1', plural: 'jobs', kind: 'Job', namespaced: true },
  { group: 'batch', version: 'v1', plural: 'cronjobs', kind: 'CronJob', namespaced: true },
  { group: 'sluice.dev', version: 'v1alpha2', plural: 'serviceprofiles', kind: 'ServiceProfile', namespaced: true },
  { group: 'policy.sluice.dev', version: 'v1beta1', plural: 'servers', kind: 'Server', namespaced: true },
  { group: 'policy.sluice.dev', version: 'v1beta1', plural: 'serverauthorizations', kind: 'ServerAuthorization', namespaced: true },
  // What `sluice install` creates (and `sluice check` reads).
  { group: '', version: 'v1', plural: 'serviceaccounts', kind: 'ServiceAccount', namespaced: true },
  { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'clusterroles', kind: 'ClusterRole', namespaced: false },
  { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'clusterrolebindings', kind: 'ClusterRoleBinding', namespaced: false },
  { group: 'apiextensions.k8s.io', version: 'v1', plural: 'customresourcedefinitions', kind: 'CustomResourceDefinition', namespaced: false },
  { group: 'admissionregistration.k8s.io', version: 'v1', plural: 'mutatingwebhookconfigurations', kind: 'MutatingWebhookConfiguration', namespaced: false },
  { group: 'policy', version: 'v1', plural: 'poddisruptionbudgets', kind: 'PodDisruptionBudget', namespaced: true },
  { group: 'policy.sluice.dev', version: 'v1beta1', plural: 'servers', kind: 'Server', namespaced: true },
  { group: 'policy.sluice.dev', version: 'v1beta1', plural: 'serverauthorizations', kind: 'ServerAuthorization', namespaced: true },
];

/** What `GET /version` answers (a real server's fields; tests change `gitVersion`, `major`, `minor`). */
export interface VersionInfo {
  major: string;
  minor: string;
  gitVersion: string;
  platform: string;
}

export interface ObjectMeta {
  name?: string;
  namespace?: string;
  resourceVersion?: string;
  uid?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  [key: string]: unknown;
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  [key: string]: unknown;
}

type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';
export type Verb = 'list' | 'watch' | 'get' | 'create';

/** A TokenReview's spec as the client sent it, and the status the fake answers with. */
export interface TokenReviewSpec {
  readonly token: string;
  readonly audiences?: readonly string[];
}
export interface TokenReviewStatus {
  readonly authenticated?: boolean;
  readonly user?: { readonly username?: string; readonly uid?: string; readonly groups?: readonly string[] };
  readonly audiences?: readonly string[];
  readonly error?: string;
}
export type TokenReviewer = (spec: TokenReviewSpec) => TokenReviewStatus;

/** A SubjectAccessReview's spec as the client sent it, and the status the fake answers with. */
export interface AccessReviewSpec {
  readonly user?: string;
  readonly uid?: string;
  readonly groups?: readonly string[];
  readonly resourceAttributes?: Readonly<Record<string, string | undefined>>;
}
export interface AccessReviewStatus {
  readonly allowed: boolean;
  readonly denied?: boolean;
  readonly reason?: string;
}
export type AccessReviewer = (spec: AccessReviewSpec) => AccessReviewStatus;

interface StoredEvent {
  readonly rv: number;
  readonly type: EventType;
  readonly resource: ResourceType;
  readonly object: KubeObject;
  /** The state before a MODIFIED, to turn it into ADDED/DELETED for watchers whose selector it crosses. */
  readonly previous: KubeObject | undefined;
}

interface OpenWatch {
  readonly resource: ResourceType;
  readonly namespace: string | undefined;
  readonly match: Matcher;
  readonly res: http.ServerResponse;
  readonly bookmarks: boolean;
  timers: NodeJS.Timeout[];
}

export interface RequestRecord {
  readonly verb: Verb | 'other';
  readonly plural: string | undefined;
  readonly namespace: string | undefined;
  readonly url: string;
}

export interface FakeKubeOptions {
  /** How many events the server remembers for watches that resume from a resourceVersion. */
  readonly historyLimit?: number;
  /** Period of BOOKMARK events on watches that asked for them. */
  readonly bookmarkIntervalMs?: number;
  /** Resources (by plural) this server does not know, as when a CRD is not installed: every request 404s. */
  readonly missing?: readonly string[];
}

/** A SelfSubjectAccessReview's question, as `sluice check --pre` asks it. */
export interface AccessQuestion {
  readonly verb: string;
  readonly group: string;
  readonly resource: string;
  readonly namespace: string;
}

const clone = <T>(value: T): T => structuredClone(value);
const keyOf = (namespace: string | undefined, name: string): string => `${namespace ?? ''}/${name}`;

function status(code: number, reason: string, message: string): KubeObject {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

export class FakeKube {
  readonly url: string;
  readonly port: number;
  /** Every request received, oldest first. */
  readonly requests: RequestRecord[] = [];
  historyLimit: number;
  private readonly server: http.Server;
  private readonly bookmarkIntervalMs: number;
  private readonly store = new Map<ResourceType, Map<string, KubeObject>>();
  private history: StoredEvent[] = [];
  private readonly watches = new Set<OpenWatch>();
  private readonly snapshots = new Map<string, { items: KubeObject[]; rv: number }>();
  private rv = 1;
  /** Events at or below this resourceVersion are forgotten: resuming a watch from before it gets 410. */
  private compactedThrough = 1;
  private failure: { verbs: ReadonlySet<Verb>; code: number } | undefined;
  private readonly missing: ReadonlySet<string>;
  /** `GET /version`; `undefined` answers 404 as a server too old to have it would. */
  version: VersionInfo | undefined = { major: '1', minor: '30', gitVersion: 'v1.30.2', platform: 'linux/amd64' };
  /** Answers SelfSubjectAccessReviews (POST authorization.k8s.io/v1 selfsubjectaccessreviews). */
  allow: (question: AccessQuestion) => boolean = () => true;
  /** Answers TokenReviews; by default no token is authenticated (set it with `reviewTokens`). */
  private tokenReviewer: TokenReviewer = () => ({ authenticated: false });
  /** Every TokenReview spec received, oldest first. */
  readonly tokenReviews: TokenReviewSpec[] = [];
  /** Answers SubjectAccessReviews; by default nothing is allowed (set it with `reviewAccess`). */
  private accessReviewer: AccessReviewer = () => ({ allowed: false, reason: 'no RBAC rule allows it' });
  /** Every SubjectAccessReview spec received, oldest first. */
  readonly accessReviews: AccessReviewSpec[] = [];

  private constructor(server: http.Server, options: FakeKubeOptions) {
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
    this.url = `http://127.0.0.1:${this.port}`;
    this.historyLimit = options.historyLimit ?? 10_000;
    this.bookmarkIntervalMs = options.bookmarkIntervalMs ?? 5_000;
    this.missing = new Set(options.missing ?? []);
    for (const type of RESOURCE_TYPES) this.store.set(type, new Map());
    server.on('request', (req, res) => this.handle(req, res));
  }

  static async start(options: FakeKubeOptions = {}): Promise<FakeKube> {
    const server = http.createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return new FakeKube(server, options);
  }

  async close(): Promise<void> {
    this.dropWatches();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ── test controls ────────────────────────────────────────────────────────────────────────────

  get resourceVersion(): string {
    return String(this.rv);
  }

  get openWatches(): number {
    return this.watches.size;
  }

  count(verb: Verb, plural?: string): number {
    return this.requests.filter((r) => r.verb === verb && (plural === undefined || r.plural === plural)).length;
  }

  create<T extends KubeObject>(object: T): T {
    const { type, key, namespace, objects } = this.locate(object);
    if (objects.has(key)) throw new Error(`${type.plural} ${key} already exists`);
    const stored = clone(object);
    stored.metadata = { ...stored.metadata, namespace, uid: randomUUID(), creationTimestamp: new Date().toISOString() };
    return this.commit('ADDED', type, key, stored, undefined) as T;
  }

  update<T extends KubeObject>(object: T): T {
    const { type, key, namespace, objects } = this.locate(object);
    const previous = objects.get(key);
    if (!previous) throw new Error(`${type.plural} ${key} not found`);
    const stored = clone(object);
    stored.metadata = { ...stored.metadata, namespace, uid: previous.metadata?.uid, creationTimestamp: previous.metadata?.['creationTimestamp'] };
    return this.commit('MODIFIED', type, key, stored, previous) as T;
  }

  /** Creates or updates. */
  apply<T extends KubeObject>(object: T): T {
    const { key, objects } = this.locate(object);
    return objects.has(key) ? this.update(object) : this.create(object);
  }

  delete(object: KubeObject): KubeObject {
    const { type, key, objects } = this.locate(object);
    const previous = objects.get(key);
    if (!previous) throw new Error(`${type.plural} ${key} not found`);
    return this.commit('DELETED', type, key, clone(previous), previous);
  }

  get(object: KubeObject): KubeObject | undefined {
    const { key, objects } = this.locate(object);
    const found = objects.get(key);
    return found === undefined ? undefined : clone(found);
  }

  /** Cuts every open watch: `reset` destroys the connection, `end` finishes the response cleanly. */
  dropWatches(how: 'reset' | 'end' = 'reset'): void {
    for (const watch of [...this.watches]) {
      this.unregister(watch);
      if (how === 'reset') watch.res.socket?.destroy();
      else watch.res.end();
    }
  }

  /** Forgets all history (and list continue tokens): a watch resuming from any older version gets 410. */
  compactHistory(): void {
    this.history = [];
    this.compactedThrough = this.rv;
    this.snapshots.clear();
  }

  /** Sends a BOOKMARK now on every watch that allowed them. */
  sendBookmarks(): void {
    for (const watch of this.watches) if (watch.bookmarks) this.bookmark(watch);
  }

  /** How TokenReviews are answered from now on. */
  reviewTokens(reviewer: TokenReviewer): void {
    this.tokenReviewer = reviewer;
  }

  /** How SubjectAccessReviews are answered from now on. */
  reviewAccess(reviewer: AccessReviewer): void {
    this.accessReviewer = reviewer;
  }

  /** Answers requests of these verbs with `code` until `heal()`. */
  fail(verbs: readonly Verb[], code = 503): void {
    this.failure = { verbs: new Set(verbs), code };
  }

  heal(): void {
    this.failure = undefined;
  }

  // ── store ────────────────────────────────────────────────────────────────────────────────────

  private locate(object: KubeObject): { type: ResourceType; key: string; namespace: string | undefined; objects: Map<string, KubeObject> } {
    const [group, version] = (object.apiVersion ?? '').includes('/') ? (object.apiVersion ?? '').split('/') : ['', object.apiVersion];
    const type = RESOURCE_TYPES.find((t) => t.group === group && t.version === version && t.kind === object.kind);
    if (!type) throw new Error(`unknown resource ${object.apiVersion} ${object.kind}`);
    const name = object.metadata?.name;
    if (!name) throw new Error('metadata.name is required');
    const namespace = type.namespaced ? (object.metadata?.namespace ?? 'default') : undefined;
    return { type, key: keyOf(namespace, name), namespace, objects: this.store.get(type) ?? new Map() };
  }

  private commit(type: EventType, resource: ResourceType, key: string, object: KubeObject, previous: KubeObject | undefined): KubeObject {
    this.rv++;
    object.metadata = { ...object.metadata, resourceVersion: String(this.rv) };
    const objects = this.store.get(resource);
    if (type === 'DELETED') objects?.delete(key);
    else objects?.set(key, object);
    const event: StoredEvent = { rv: this.rv, type, resource, object, previous };
    this.history.push(event);
    while (this.history.length > this.historyLimit) {
      const dropped = this.history.shift();
      if (dropped) this.compactedThrough = dropped.rv;
    }
    for (const watch of this.watches) this.deliver(watch, event);
    return clone(object);
  }

  private matching(resource: ResourceType, namespace: string | undefined, match: Matcher): KubeObject[] {
    const all = [...(this.store.get(resource)?.entries() ?? [])].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return all.map(([, o]) => o).filter((o) => (namespace === undefined || o.metadata?.namespace === namespace) && match(o));
  }

  // ── HTTP ─────────────────────────────────────────────────────────────────────────────────────

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', this.url);
    const route = this.route(url.pathname);
    const watching = url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1';
    const tokenReview = req.method === 'POST' && url.pathname === '/apis/authentication.k8s.io/v1/tokenreviews';
    const accessReview = req.method === 'POST' && url.pathname === '/apis/authorization.k8s.io/v1/subjectaccessreviews';
    const verb: Verb | 'other' = tokenReview || accessReview
      ? 'create'
      : req.method !== 'GET' || !route
        ? 'other'
        : route.name !== undefined
          ? 'get'
          : watching
            ? 'watch'
            : 'list';
    this.requests.push({ verb, plural: tokenReview ? 'tokenreviews' : accessReview ? 'subjectaccessreviews' : route?.resource.plural, namespace: route?.namespace, url: req.url ?? '' });
    if (url.pathname === '/version' && req.method === 'GET') {
      return this.version === undefined ? this.reply(res, 404, status(404, 'NotFound', 'the server could not find the requested resource')) : this.reply(res, 200, this.version);
    }
    if (url.pathname === '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews' && req.method === 'POST') return this.review(req, res);
    if (verb !== 'other' && this.failure?.verbs.has(verb)) {
      const code = this.failure.code;
      return this.reply(res, code, status(code, http.STATUS_CODES[code] ?? 'Failure', 'injected failure'));
    }
    if (tokenReview) return void this.reviewToken(req, res);
    if (accessReview) return void this.reviewAccessRequest(req, res);
    if (!route || this.missing.has(route.resource.plural)) {
      return this.reply(res, 404, status(404, 'NotFound', `the server could not find the requested resource ${url.pathname}`));
    }
    if (req.method !== 'GET') return this.reply(res, 405, status(405, 'MethodNotAllowed', 'this fake API server is read-only over HTTP'));
    let match: Matcher;
    try {
      const byLabel = labelSelector(url.searchParams.get('labelSelector'));
      const byField = fieldSelector(url.searchParams.get('fieldSelector'));
      match = (o) => byLabel(o) && byField(o);
    } catch (err) {
      if (!(err instanceof SelectorError)) throw err;
      return this.reply(res, 400, status(400, 'BadRequest', err.message));
    }
    const { resource, namespace, name } = route;
    if (name !== undefined) {
      const found = this.store.get(resource)?.get(keyOf(namespace, name));
      if (!found) return this.reply(res, 404, status(404, 'NotFound', `${resource.plural} "${name}" not found`));
      return this.reply(res, 200, found);
    }
    if (verb === 'watch') return this.watch(resource, namespace, match, url.searchParams, res);
    return this.list(resource, namespace, match, url.searchParams, res);
  }

  private review(req: http.IncomingMessage, res: http.ServerResponse): void {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      let review: KubeObject;
      try {
        review = JSON.parse(body) as KubeObject;
      } catch {
        return this.reply(res, 400, status(400, 'BadRequest', 'not JSON'));
      }
      const attributes = ((review['spec'] as Record<string, unknown> | undefined)?.['resourceAttributes'] ?? {}) as Record<string, string | undefined>;
      const question: AccessQuestion = { verb: attributes['verb'] ?? '', group: attributes['group'] ?? '', resource: attributes['resource'] ?? '', namespace: attributes['namespace'] ?? '' };
      const allowed = this.allow(question);
      this.reply(res, 201, { ...review, status: { allowed, ...(allowed ? {} : { reason: 'denied by the fake API server' }) } });
    });
  }

  /** `/api/v1/…` or `/apis/<group>/<version>/…`, then `<plural>[/<name>]` or `namespaces/<ns>/<plural>[/<name>]`. */
  private route(path: string): { resource: ResourceType; namespace: string | undefined; name: string | undefined } | undefined {
    const segs = path.split('/').filter((s) => s !== '').map(decodeURIComponent);
    let group: string;
    let version: string | undefined;
    let rest: string[];
    if (segs[0] === 'api') [group, version, rest] = ['', segs[1], segs.slice(2)];
    else if (segs[0] === 'apis') [group, version, rest] = [segs[1] ?? '', segs[2], segs.slice(3)];
    else return undefined;
    let namespace: string | undefined;
    if (rest[0] === 'namespaces' && rest.length >= 3) {
      namespace = rest[1];
      rest = rest.slice(2);
    }
    if (rest.length < 1 || rest.length > 2) return undefined;
    const resource = RESOURCE_TYPES.find((t) => t.group === group && t.version === version && t.plural === rest[0]);
    if (!resource || (namespace !== undefined && !resource.namespaced)) return undefined;
    const name = rest[1];
    // `<plural>/<name>` without a namespace only names cluster-scoped objects.
    if (name !== undefined && namespace === undefined && resource.namespaced) return undefined;
    return { resource, namespace, name };
  }

  private async reviewToken(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    let review: { apiVersion?: string; kind?: string; spec?: { token?: unknown; audiences?: unknown } };
    try {
      review = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof review;
    } catch {
      return this.reply(res, 400, status(400, 'BadRequest', 'request body is not JSON'));
    }
    if (review.kind !== 'TokenReview' || typeof review.spec?.token !== 'string') {
      return this.reply(res, 400, status(400, 'BadRequest', 'expected a TokenReview with spec.token'));
    }
    const audiences = Array.isArray(review.spec.audiences) ? review.spec.audiences.map(String) : undefined;
    const spec: TokenReviewSpec = audiences === undefined ? { token: review.spec.token } : { token: review.spec.token, audiences };
    this.tokenReviews.push(spec);
    this.reply(res, 201, { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', metadata: {}, spec: review.spec, status: this.tokenReviewer(spec) });
  }

  private async reviewAccessRequest(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    let review: { kind?: string; spec?: AccessReviewSpec };
    try {
      review = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof review;
    } catch {
      return this.reply(res, 400, status(400, 'BadRequest', 'request body is not JSON'));
    }
    if (review.kind !== 'SubjectAccessReview' || review.spec === undefined || (review.spec.user === undefined && review.spec.groups === undefined)) {
      return this.reply(res, 400, status(400, 'BadRequest', 'expected a SubjectAccessReview with spec.user or spec.groups'));
    }
    this.accessReviews.push(review.spec);
    this.reply(res, 201, { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', metadata: {}, spec: review.spec, status: this.accessReviewer(review.spec) });
  }

  private reply(res: http.ServerResponse, code: number, body: unknown): void {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  private list(resource: ResourceType, namespace: string | undefined, match: Matcher, query: URLSearchParams, res: http.ServerResponse): void {
    const limit = Number(query.get('limit') ?? '0');
    const token = query.get('continue');
    let items: KubeObject[];
    let rv: number;
    let offset = 0;
    let id: string;
    if (token) {
      const [tokenId = '', at = ''] = Buffer.from(token, 'base64url').toString().split(':');
      const snapshot = this.snapshots.get(tokenId);
      if (!snapshot) return this.reply(res, 410, status(410, 'Expired', 'The provided continue parameter is too old to display a consistent list result.'));
      ({ items, rv } = snapshot);
      id = tokenId;
      offset = Number(at);
    } else {
      items = this.matching(resource, namespace, match).map(clone);
      rv = this.rv;
      id = randomUUID();
    }
    const metadata: Record<string, unknown> = { resourceVersion: String(rv) };
    let page = items.slice(offset);
    if (limit > 0 && page.length > limit) {
      page = page.slice(0, limit);
      this.snapshots.set(id, { items, rv });
      metadata['continue'] = Buffer.from(`${id}:${offset + limit}`).toString('base64url');
      metadata['remainingItemCount'] = items.length - offset - limit;
    } else {
      this.snapshots.delete(id);
    }
    const apiVersion = resource.group === '' ? resource.version : `${resource.group}/${resource.version}`;
    this.reply(res, 200, { kind: `${resource.kind}List`, apiVersion, metadata, items: page });
  }

  private watch(resource: ResourceType, namespace: string | undefined, match: Matcher, query: URLSearchParams, res: http.ServerResponse): void {
    const from = query.get('resourceVersion') ?? '';
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
    const watch: OpenWatch = { resource, namespace, match, res, bookmarks: query.get('allowWatchBookmarks') === 'true', timers: [] };
    if (from === '' || from === '0') {
      for (const object of this.matching(resource, namespace, match)) this.send(watch, 'ADDED', object);
    } else {
      const since = Number(from);
      if (!Number.isInteger(since)) {
        this.send(watch, 'ERROR', status(400, 'BadRequest', `invalid resource version ${JSON.stringify(from)}`));
        return void res.end();
      }
      if (since < this.compactedThrough) {
        this.send(watch, 'ERROR', status(410, 'Expired', `too old resource version: ${since} (${this.compactedThrough})`));
        return void res.end();
      }
      for (const event of this.history) if (event.rv > since && event.resource === resource) this.deliver(watch, event);
    }
    this.watches.add(watch);
    res.on('close', () => this.unregister(watch));
    if (watch.bookmarks) watch.timers.push(setInterval(() => this.bookmark(watch), this.bookmarkIntervalMs).unref());
    const timeout = Number(query.get('timeoutSeconds') ?? '0');
    if (timeout > 0) {
      watch.timers.push(
        setTimeout(() => {
          this.unregister(watch);
          res.end();
        }, timeout * 1000).unref(),
      );
    }
  }

  private unregister(watch: OpenWatch): void {
    this.watches.delete(watch);
    for (const timer of watch.timers) clearTimeout(timer);
    watch.timers = [];
  }

  /** Sends one stored event to one watch, as that watch's selectors and namespace see it. */
  private deliver(watch: OpenWatch, event: StoredEvent): void {
    if (event.resource !== watch.resource) return;
    const sees = (o: KubeObject | undefined): boolean =>
      o !== undefined && (watch.namespace === undefined || o.metadata?.namespace === watch.namespace) && watch.match(o);
    const now = event.type !== 'DELETED' && sees(event.object);
    const before = event.type === 'DELETED' ? sees(event.object) : event.type === 'MODIFIED' && sees(event.previous);
    if (now && before) this.send(watch, 'MODIFIED', event.object);
    else if (now) this.send(watch, 'ADDED', event.object);
    else if (before) this.send(watch, 'DELETED', event.object);
  }

  /** How many BOOKMARK events were sent, over all watches (tests wait on it, not on time). */
  bookmarksSent = 0;

  private bookmark(watch: OpenWatch): void {
    this.bookmarksSent++;
    const { group, version, kind } = watch.resource;
    const object = { kind, apiVersion: group === '' ? version : `${group}/${version}`, metadata: { resourceVersion: String(this.rv) } };
    this.send(watch, 'BOOKMARK', object);
  }

  private send(watch: OpenWatch, type: EventType | 'BOOKMARK' | 'ERROR', object: KubeObject): void {
    if (!watch.res.writableEnded && !watch.res.destroyed) watch.res.write(JSON.stringify({ type, object }) + '\n');
  }
}
