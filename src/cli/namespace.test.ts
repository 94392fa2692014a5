import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { defaultNamespace, kubeconfigNamespace } from './namespace.ts';

describe('the namespace a command means without -n', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-ns-'));
  const kubeconfig = join(dir, 'config');
  writeFileSync(
    kubeconfig,
    'current-context: dev\ncontexts:\n- name: dev\n  context: {cluster: c, namespace: emojivoto}\n- name: prod\n  context: {cluster: c}\n',
  );
  const noConfig = { HOME: dir, KUBECONFIG: join(dir, 'missing') };

  it('is -n when given', () => {
    assert.equal(defaultNamespace('shop', { KUBECONFIG: kubeconfig }), 'shop');
  });
  it('is SLUICE_NAMESPACE next', () => {
    assert.equal(defaultNamespace(undefined, { SLUICE_NAMESPACE: 'team', KUBECONFIG: kubeconfig }), 'team');
  });
  it("is the current kubeconfig context's namespace, default when it names none", () => {
    assert.equal(kubeconfigNamespace({ KUBECONFIG: kubeconfig }), 'emojivoto');
    writeFileSync(join(dir, 'prod'), 'current-context: prod\ncontexts:\n- name: prod\n  context: {cluster: c}\n');
    assert.equal(kubeconfigNamespace({ KUBECONFIG: join(dir, 'prod') }), 'default');
  });
  it('is undefined without any kubeconfig (a local mesh): stat then shows every namespace', () => {
    assert.equal(defaultNamespace(undefined, noConfig), undefined);
    rmSync(dir, { recursive: true, force: true });
  });
});
