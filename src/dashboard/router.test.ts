// The page's addresses: every route parses back from the link it makes, odd names included.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hrefOf, parseRoute, workloadHref, type Route } from './router.ts';

describe('dashboard routes', () => {
  it('round-trips every page through its link', () => {
    const routes: Route[] = [
      { page: 'namespaces' },
      { page: 'namespace', namespace: 'emojivoto' },
      { page: 'workload', namespace: 'emojivoto', type: 'deployment', name: 'web' },
      { page: 'workload', namespace: 'a b', type: 'pod', name: 'x/y' },
      { page: 'topology', namespace: '' },
      { page: 'topology', namespace: 'emojivoto' },
    ];
    for (const route of routes) assert.deepEqual(parseRoute(hrefOf(route)), route);
  });

  it('treats an empty hash as the first page and anything else unknown as not found', () => {
    assert.deepEqual(parseRoute(''), { page: 'namespaces' });
    assert.deepEqual(parseRoute('#/'), { page: 'namespaces' });
    assert.equal(parseRoute('#/ns/a/b').page, 'not-found');
    assert.equal(parseRoute('#/elsewhere').page, 'not-found');
  });

  it('links workloads and pods, not services or namespaces', () => {
    assert.equal(workloadHref('deployment', 'emojivoto', 'web'), '#/ns/emojivoto/deployment/web');
    assert.equal(workloadHref('service', 'emojivoto', 'web-svc'), undefined);
    assert.equal(workloadHref('namespace', '', 'emojivoto'), undefined);
  });
});
