// Profile routes: matching requests (method, anchored path regex, all/any/not, first route wins),
// classifying responses, and the retry decision. Property tests check the combinators against a
// direct evaluation of the condition tree.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { RequestMatchData, RouteData } from '../discovery/state.ts';
import { CompiledProfile, DEFAULT_ROUTE, compilePathRegex, compileRequestMatch, pathOf, routeLabels } from './routes.ts';
import { DEFAULT_RETRY_BUDGET, RetryBudget } from '../retry/budget.ts';
import { MAX_REPLAY_BYTES, ReplayBuffer, decideRetry } from '../retry/retry.ts';

function route(name: string, condition: RequestMatchData, extra: Partial<RouteData> = {}): RouteData {
  return { condition, responseClasses: [], labels: { route: name }, isRetryable: false, timeoutMs: undefined, ...extra };
}

const GET: RequestMatchData = { kind: 'method', method: 'GET' };
const books = (regex: string): RequestMatchData => ({ kind: 'path', regex });

describe('route matching', () => {
  const profile = new CompiledProfile({
    fullyQualifiedName: 'books.default.svc.cluster.local',
    retryBudget: undefined,
    routes: [
      route('GET /books/{id}', { kind: 'all', matches: [GET, books('/books/\\d+')] }),
      route('POST /books', { kind: 'all', matches: [{ kind: 'method', method: 'POST' }, books('/books')] }),
      route('not-GET /admin', { kind: 'all', matches: [books('/admin/.*'), { kind: 'not', match: GET }] }),
      route('any', { kind: 'any', matches: [books('/a'), books('/b')] }),
      route('catch-all /books', books('/books.*')),
    ],
  });

  const name = (method: string, target: string): string => profile.route(method, pathOf(target)).labels;

  it('takes the first route whose condition matches', () => {
    assert.equal(name('GET', '/books/42'), 'rt_route="GET /books/{id}"');
    assert.equal(name('POST', '/books'), 'rt_route="POST /books"');
    assert.equal(name('GET', '/books/'), 'rt_route="catch-all /books"');
    assert.equal(name('DELETE', '/admin/x'), 'rt_route="not-GET /admin"');
    assert.equal(name('GET', '/b'), 'rt_route="any"');
  });

  it('anchors the regex to the whole path and ignores the query', () => {
    assert.equal(name('GET', '/books/42?x=1'), 'rt_route="GET /books/{id}"');
    assert.equal(name('GET', '/v1/books/42'), '');
    assert.equal(name('GET', '/books/42x'), 'rt_route="catch-all /books"');
  });

  it('falls back to the default route, which has no labels, no retries and no timeout', () => {
    assert.equal(profile.route('GET', '/admin/x'), DEFAULT_ROUTE);
    assert.equal(DEFAULT_ROUTE.labels, '');
    assert.equal(DEFAULT_ROUTE.isRetryable, false);
    assert.equal(DEFAULT_ROUTE.timeoutMs, undefined);
  });

  it('never matches a route whose regex does not compile, and says so', () => {
    const invalid: string[] = [];
    const p = new CompiledProfile({ fullyQualifiedName: '', retryBudget: undefined, routes: [route('bad', books('/x('))] }, (r) => invalid.push(r));
    assert.equal(p.route('GET', '/x('), DEFAULT_ROUTE);
    assert.deepEqual(invalid, ['/x(']);
  });

  it("reads Go's (?i) prefix as case-insensitive", () => {
    assert.equal(compilePathRegex('(?i)/Books')?.test('/books'), true);
    assert.equal(compilePathRegex('/Books')?.test('/books'), false);
  });

  it('uses Linkerd’s default budget when the profile sends none', () => {
    assert.deepEqual(new CompiledProfile(undefined).retryBudget, { retryRatio: 0.2, minRetriesPerSecond: 10, ttlMs: 10_000 });
  });

  it('formats route labels with the rt_ prefix, sorted, with safe names', () => {
    assert.equal(routeLabels({ route: 'x', 'my-label': 'y' }), 'rt_my_label="y",rt_route="x"');
  });
});

/** Direct evaluation, the specification the compiled matcher must agree with. */
function evaluate(m: RequestMatchData, method: string, path: string): boolean {
  switch (m.kind) {
    case 'all':
      return m.matches.every((x) => evaluate(x, method, path));
    case 'any':
      return m.matches.some((x) => evaluate(x, method, path));
    case 'not':
      return !evaluate(m.match, method, path);
    case 'path':
      return path === m.regex; // the generated regexes are literal paths
    case 'method':
      return method === m.method;
    case 'none':
      return false;
  }
}

const methods = fc.constantFrom('GET', 'POST', 'PUT', 'DELETE');
const paths = fc.constantFrom('/a', '/b', '/books', '/c');
const matchTree: fc.Arbitrary<RequestMatchData> = fc.letrec<{ m: RequestMatchData }>((tie) => ({
  m: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    methods.map((method): RequestMatchData => ({ kind: 'method', method })),
    paths.map((regex): RequestMatchData => ({ kind: 'path', regex })),
    fc.constant<RequestMatchData>({ kind: 'none' }),
    fc.array(tie('m'), { maxLength: 3 }).map((matches): RequestMatchData => ({ kind: 'all', matches })),
    fc.array(tie('m'), { maxLength: 3 }).map((matches): RequestMatchData => ({ kind: 'any', matches })),
    tie('m').map((match): RequestMatchData => ({ kind: 'not', match })),
  ),
})).m;

describe('route matching properties (fast-check)', () => {
  it('the compiled matcher agrees with the condition tree', () => {
    fc.assert(
      fc.property(matchTree, methods, paths, (tree, method, path) => {
        assert.equal(compileRequestMatch(tree)(method, path), evaluate(tree, method, path));
      }),
    );
  });

  it('the chosen route is the first that matches, else the default', () => {
    fc.assert(
      fc.property(fc.array(matchTree, { maxLength: 5 }), methods, paths, (trees, method, path) => {
        const profile = new CompiledProfile({ fullyQualifiedName: '', retryBudget: undefined, routes: trees.map((t, i) => route(`r${i}`, t)) });
        const first = trees.findIndex((t) => evaluate(t, method, path));
        assert.equal(profile.route(method, path).labels, first < 0 ? '' : `rt_route="r${first}"`);
      }),
    );
  });
});

describe('response classification', () => {
  const classified = new CompiledProfile({
    fullyQualifiedName: '',
    retryBudget: undefined,
    routes: [
      route('r', GET, {
        responseClasses: [
          { condition: { kind: 'status', min: 500, max: 503 }, isFailure: true },
          { condition: { kind: 'status', min: 504, max: 0 }, isFailure: false },
          { condition: { kind: 'status', min: 404, max: 404 }, isFailure: true },
        ],
      }),
    ],
  }).route('GET', '/');

  it('uses the first matching response class', () => {
    assert.equal(classified.isFailure(502, -1), true);
    assert.equal(classified.isFailure(504, -1), false);
    assert.equal(classified.isFailure(599, -1), false);
    assert.equal(classified.isFailure(404, -1), true);
  });

  it('otherwise HTTP ≥ 500, or a gRPC status other than OK when there is one', () => {
    assert.equal(classified.isFailure(200, -1), false);
    assert.equal(DEFAULT_ROUTE.isFailure(500, -1), true);
    assert.equal(DEFAULT_ROUTE.isFailure(499, -1), false);
    assert.equal(DEFAULT_ROUTE.isFailure(200, 14), true);
    assert.equal(DEFAULT_ROUTE.isFailure(200, 0), false);
  });
});

describe('the retry decision', () => {
  const clock = (): number => 0;
  const retryable = new CompiledProfile({ fullyQualifiedName: '', retryBudget: undefined, routes: [route('r', GET, { isRetryable: true })] }).route('GET', '/');

  it('retries only failures of retryable routes', () => {
    const budget = new RetryBudget(DEFAULT_RETRY_BUDGET, clock);
    assert.equal(decideRetry(DEFAULT_ROUTE, true, false, new ReplayBuffer(), budget), undefined);
    assert.equal(decideRetry(retryable, false, false, new ReplayBuffer(), budget), undefined);
    assert.equal(decideRetry(retryable, true, false, new ReplayBuffer(), budget), 'retried');
  });

  it('not once the response has begun, nor when the body went past 64 KiB, nor beyond the budget', () => {
    const budget = new RetryBudget({ retryRatio: 0, minRetriesPerSecond: 0, ttlMs: 10_000 }, clock);
    assert.equal(decideRetry(retryable, true, true, new ReplayBuffer(), budget), 'response_started');
    const big = new ReplayBuffer();
    big.add(Buffer.alloc(MAX_REPLAY_BYTES));
    assert.equal(big.overflowed, false);
    big.add(Buffer.alloc(1));
    assert.equal(big.overflowed, true);
    assert.deepEqual(big.chunks, []);
    assert.equal(decideRetry(retryable, true, false, big, budget), 'body_too_large');
    assert.equal(decideRetry(retryable, true, false, new ReplayBuffer(), budget), 'no_budget');
  });
});
