// The custom resource definitions the controller reads: ServiceProfile (`serviceprofiles.sluice.dev`,
// Linkerd's v1alpha2 schema, read by discovery/kubernetes/profiles.ts) and the authorization policy
// pair Server / ServerAuthorization (`policy.sluice.dev`, Linkerd's v1beta1 shapes, kept minimal).
// Structural schemas: every field typed; the recursive request/response matches (all/any/not) cannot
// be written as a recursive schema, so below one level they keep unknown fields, as Linkerd's do.
import { PROFILE_GROUP, PROFILE_PLURAL, PROFILE_VERSION } from '../control/discovery/kubernetes/profiles.ts';

/** The subset of JSON Schema an apiextensions.k8s.io/v1 structural schema uses here. */
export interface JsonSchema {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  enum?: string[];
  format?: string;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  additionalProperties?: JsonSchema;
  oneOf?: JsonSchema[];
  'x-kubernetes-int-or-string'?: true;
  'x-kubernetes-preserve-unknown-fields'?: true;
}

export interface CustomResourceDefinition {
  apiVersion: 'apiextensions.k8s.io/v1';
  kind: 'CustomResourceDefinition';
  metadata: { name: string; labels: Record<string, string> };
  spec: {
    group: string;
    scope: 'Namespaced' | 'Cluster';
    names: { plural: string; singular: string; kind: string; listKind: string; shortNames?: string[] };
    versions: Array<{
      name: string;
      served: boolean;
      storage: boolean;
      schema: { openAPIV3Schema: JsonSchema };
      additionalPrinterColumns?: Array<{ name: string; type: string; jsonPath: string }>;
    }>;
  };
}

export const POLICY_GROUP = 'policy.sluice.dev';
export const POLICY_VERSION = 'v1beta1';

const string = (description?: string): JsonSchema => (description === undefined ? { type: 'string' } : { type: 'string', description });
const boolean: JsonSchema = { type: 'boolean' };
const object = (properties: Record<string, JsonSchema>, required?: string[]): JsonSchema =>
  required === undefined ? { type: 'object', properties } : { type: 'object', properties, required };
const list = (items: JsonSchema): JsonSchema => ({ type: 'array', items });
/** A nested match (inside all/any/not): its own fields are checked by the controller, not the API server. */
const nestedMatch: JsonSchema = { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
const intOrString: JsonSchema = { 'x-kubernetes-int-or-string': true };

const requestMatch = object({
  method: string('HTTP method, e.g. GET'),
  pathRegex: string('regular expression the whole path must match'),
  all: list(nestedMatch),
  any: list(nestedMatch),
  not: nestedMatch,
});

const responseMatch = object({
  status: object({ min: { type: 'integer', minimum: 100, maximum: 599 }, max: { type: 'integer', minimum: 100, maximum: 599 } }),
  all: list(nestedMatch),
  any: list(nestedMatch),
  not: nestedMatch,
});

const serviceProfileSchema: JsonSchema = object(
  {
    apiVersion: string(),
    kind: string(),
    metadata: { type: 'object' },
    spec: object({
      routes: list(
        object(
          {
            name: string(),
            condition: requestMatch,
            responseClasses: list(object({ condition: responseMatch, isFailure: boolean }, ['condition'])),
            isRetryable: boolean,
            timeout: string('e.g. 250ms, 10s'),
          },
          ['name', 'condition'],
        ),
      ),
      retryBudget: object(
        { retryRatio: { type: 'number', format: 'float' }, minRetriesPerSecond: { type: 'integer', format: 'int32' }, ttl: string('e.g. 10s') },
        ['retryRatio', 'minRetriesPerSecond', 'ttl'],
      ),
      dstOverrides: list(object({ authority: string(), weight: intOrString }, ['authority', 'weight'])),
      opaquePorts: list({ type: 'integer', minimum: 1, maximum: 65535 }),
    }),
  },
  ['spec'],
);

const labelSelector = object({
  matchLabels: { type: 'object', additionalProperties: { type: 'string' } },
  matchExpressions: list(object({ key: string(), operator: { type: 'string', enum: ['In', 'NotIn', 'Exists', 'DoesNotExist'] }, values: list(string()) }, ['key', 'operator'])),
});

const serverSchema: JsonSchema = object(
  {
    apiVersion: string(),
    kind: string(),
    metadata: { type: 'object' },
    spec: object(
      {
        podSelector: labelSelector,
        port: { ...intOrString, description: 'a container port number or name' },
        proxyProtocol: { type: 'string', enum: ['unknown', 'HTTP/1', 'HTTP/2', 'gRPC', 'opaque', 'TLS'] },
      },
      ['podSelector', 'port'],
    ),
  },
  ['spec'],
);

const serverAuthorizationSchema: JsonSchema = object(
  {
    apiVersion: string(),
    kind: string(),
    metadata: { type: 'object' },
    spec: object(
      {
        server: object({ name: string('a Server in the same namespace'), selector: labelSelector }),
        client: object({
          unauthenticated: boolean,
          networks: list(object({ cidr: string(), except: list(string()) }, ['cidr'])),
          meshTLS: object({
            unauthenticatedTLS: boolean,
            identities: list(string('an identity name; * for any')),
            serviceAccounts: list(object({ name: string(), namespace: string() }, ['name'])),
          }),
        }),
      },
      ['server', 'client'],
    ),
  },
  ['spec'],
);

function crd(
  labels: Record<string, string>,
  group: string,
  version: string,
  names: CustomResourceDefinition['spec']['names'],
  schema: JsonSchema,
): CustomResourceDefinition {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${names.plural}.${group}`, labels },
    spec: { group, scope: 'Namespaced', names, versions: [{ name: version, served: true, storage: true, schema: { openAPIV3Schema: schema } }] },
  };
}

export function customResourceDefinitions(labels: Record<string, string>): CustomResourceDefinition[] {
  return [
    crd(labels, PROFILE_GROUP, PROFILE_VERSION, { plural: PROFILE_PLURAL, singular: 'serviceprofile', kind: 'ServiceProfile', listKind: 'ServiceProfileList', shortNames: ['sp'] }, serviceProfileSchema),
    crd(labels, POLICY_GROUP, POLICY_VERSION, { plural: 'servers', singular: 'server', kind: 'Server', listKind: 'ServerList', shortNames: ['srv'] }, serverSchema),
    crd(
      labels,
      POLICY_GROUP,
      POLICY_VERSION,
      { plural: 'serverauthorizations', singular: 'serverauthorization', kind: 'ServerAuthorization', listKind: 'ServerAuthorizationList', shortNames: ['saz'] },
      serverAuthorizationSchema,
    ),
  ];
}

/** The CRD names `sluice check` expects. */
export const CRD_NAMES: readonly string[] = [`${PROFILE_PLURAL}.${PROFILE_GROUP}`, `servers.${POLICY_GROUP}`, `serverauthorizations.${POLICY_GROUP}`];
