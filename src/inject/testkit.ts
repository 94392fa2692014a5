// Test helpers for injection: the fixtures, the test trust anchors, and an offline Kubernetes schema
// check of any object injection produces (kubernetes-models: types and enums of the built-in kinds).
import { readFileSync } from 'node:fs';
import { DaemonSet, Deployment, ReplicaSet, StatefulSet } from 'kubernetes-models/apps/v1';
import { CronJob, Job } from 'kubernetes-models/batch/v1';
import { ConfigMap, Pod, ReplicationController, Service } from 'kubernetes-models/v1';
import { parseAllDocuments } from 'yaml';
import { defaultValues, mergeValues, type Values } from './values.ts';

export const FIXTURES = new URL('./fixtures/', import.meta.url);

export function fixturePath(name: string): string {
  return new URL(name, FIXTURES).pathname;
}

export function fixtureText(name: string): string {
  return readFileSync(new URL(name, FIXTURES), 'utf8');
}

export const TRUST_ANCHORS = fixtureText('trust-anchors.pem');

/** The defaults at version 0.1.0 with the test anchors. */
export function testValues(): Values {
  return mergeValues(defaultValues('0.1.0'), { identity: { trustAnchorsPEM: TRUST_ANCHORS } });
}

/** The objects of a YAML fixture, in order. */
export function fixtureObjects(name: string): Record<string, unknown>[] {
  return parseAllDocuments(fixtureText(name)).map((d) => d.toJS() as Record<string, unknown>);
}

const MODELS: Readonly<Record<string, new (data: never) => { validate(): void }>> = {
  Deployment,
  StatefulSet,
  DaemonSet,
  ReplicaSet,
  ReplicationController,
  Job,
  CronJob,
  Pod,
  Service,
  ConfigMap,
};

/** Throws with the schema's message when `object` is not a valid built-in Kubernetes object. */
export function validateKubernetesObject(object: unknown): void {
  const kind = (object as { kind?: string }).kind ?? '';
  const Model = MODELS[kind];
  if (Model === undefined) throw new Error(`no schema for kind ${JSON.stringify(kind)} in the test kit`);
  new Model(structuredClone(object) as never).validate();
}
