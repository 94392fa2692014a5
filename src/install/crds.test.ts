// The CRDs' schemas against the resources users write: structural (what the API server demands of a
// v1 CRD: a type on every node, int-or-string and preserve-unknown-fields the only exceptions), and
// accepting Linkerd-style ServiceProfiles, Servers and ServerAuthorizations while refusing malformed
// ones. Validated with ajv (JSON Schema) after mapping the two Kubernetes extensions it does not know.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Ajv } from 'ajv';
import { toProfileSpec } from '../control/discovery/kubernetes/profiles.ts';
import { customResourceDefinitions, type JsonSchema } from './crds.ts';

const CRDS = customResourceDefinitions({});

/** The schema of `plural`, as plain JSON Schema: int-or-string as anyOf, extensions dropped. */
function jsonSchema(plural: string): object {
  const crd = CRDS.find((c) => c.spec.names.plural === plural);
  assert.ok(crd);
  const convert = (node: JsonSchema): object => {
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(node)) {
      if (key === 'x-kubernetes-preserve-unknown-fields' || key === 'format') continue;
      if (key === 'x-kubernetes-int-or-string') out['anyOf'] = [{ type: 'integer' }, { type: 'string' }];
      else if (key === 'properties') out[key] = Object.fromEntries(Object.entries(value as Record<string, JsonSchema>).map(([k, v]) => [k, convert(v)]));
      else if (key === 'items' || key === 'additionalProperties') out[key] = convert(value as JsonSchema);
      else out[key] = value;
    }
    return out;
  };
  return convert(crd.spec.versions[0]?.schema.openAPIV3Schema as JsonSchema);
}

const ajv = new Ajv({ allErrors: true, strict: false });
const accepts = (plural: string, object: unknown): boolean => ajv.validate(jsonSchema(plural), object);

const PROFILE_SPEC = {
  routes: [
    {
      name: 'GET /books/{id}',
      condition: { all: [{ method: 'GET' }, { pathRegex: '/books/[^/]*' }], not: { method: 'HEAD' } },
      responseClasses: [{ condition: { status: { min: 500, max: 599 } }, isFailure: true }, { condition: { any: [{ status: { min: 429, max: 429 } }] } }],
      isRetryable: true,
      timeout: '250ms',
    },
  ],
  retryBudget: { retryRatio: 0.2, minRetriesPerSecond: 10, ttl: '10s' },
  dstOverrides: [
    { authority: 'books-v1.shop.svc.cluster.local:7000', weight: 900 },
    { authority: 'books-v2.shop.svc.cluster.local:7000', weight: '100m' },
  ],
  opaquePorts: [5432],
};

describe('custom resource definitions', () => {
  it('are structural: every schema node has a type, but for int-or-string', () => {
    const walk = (node: JsonSchema, at: string): void => {
      assert.ok(node.type !== undefined || node['x-kubernetes-int-or-string'] === true, `${at} has a type`);
      for (const [key, child] of Object.entries(node.properties ?? {})) walk(child, `${at}.${key}`);
      if (node.items) walk(node.items, `${at}[]`);
      if (node.additionalProperties) walk(node.additionalProperties, `${at}{}`);
    };
    for (const crd of CRDS) walk(crd.spec.versions[0]?.schema.openAPIV3Schema as JsonSchema, crd.metadata.name);
  });

  it('accept a full ServiceProfile, which the controller also reads whole', () => {
    const profile = { apiVersion: 'sluice.dev/v1alpha2', kind: 'ServiceProfile', metadata: { name: 'books.shop.svc.cluster.local' }, spec: PROFILE_SPEC };
    assert.ok(accepts('serviceprofiles', profile), ajv.errorsText());
    const problems: string[] = [];
    assert.deepEqual(toProfileSpec(profile, problems), PROFILE_SPEC);
    assert.deepEqual(problems, []);
  });

  it('refuse malformed ServiceProfiles', () => {
    const bad = (spec: object): boolean => accepts('serviceprofiles', { spec });
    assert.equal(bad({ routes: [{ name: 'no condition' }] }), false);
    assert.equal(bad({ retryBudget: { retryRatio: 0.2, minRetriesPerSecond: 10 } }), false);
    assert.equal(bad({ opaquePorts: [70000] }), false);
    assert.equal(bad({ dstOverrides: [{ authority: 'a:80', weight: true }] }), false);
    assert.equal(bad({ routes: [{ name: 'x', condition: { method: 'GET' }, responseClasses: [{ condition: { status: { min: 'x' } } }] }] }), false);
  });

  it('accept Servers and ServerAuthorizations as Linkerd users write them, and refuse malformed ones', () => {
    const server = { spec: { podSelector: { matchLabels: { app: 'books' } }, port: 'http', proxyProtocol: 'HTTP/1' } };
    assert.ok(accepts('servers', server), ajv.errorsText());
    assert.ok(accepts('servers', { spec: { podSelector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['a'] }] }, port: 7000 } }), ajv.errorsText());
    assert.equal(accepts('servers', { spec: { ...server.spec, proxyProtocol: 'HTTP/3' } }), false);
    assert.equal(accepts('servers', { spec: { podSelector: {} } }), false, 'port is required');

    const authorization = {
      spec: {
        server: { name: 'books-http' },
        client: { meshTLS: { serviceAccounts: [{ name: 'web', namespace: 'shop' }], identities: ['*.shop.serviceaccount.identity.sluice.cluster.local'] } },
      },
    };
    assert.ok(accepts('serverauthorizations', authorization), ajv.errorsText());
    assert.ok(accepts('serverauthorizations', { spec: { server: { selector: { matchLabels: { app: 'books' } } }, client: { unauthenticated: true, networks: [{ cidr: '10.0.0.0/8' }] } } }));
    assert.equal(accepts('serverauthorizations', { spec: { server: { name: 'x' } } }), false, 'client is required');
    assert.equal(accepts('serverauthorizations', { spec: { server: { name: 'x' }, client: { networks: [{ except: [] }] } } }), false, 'cidr is required');
  });
});
