import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  checkValuesOverride,
  controllerIdentity,
  defaultValues,
  identityName,
  imageString,
  mergeValues,
  parseValuesYaml,
  requireTrustAnchors,
  ValuesError,
} from './values.ts';

describe('values', () => {
  it('defaults follow Linkerd and tag images with the package version', () => {
    const v = defaultValues('1.2.3');
    assert.equal(imageString(v.proxy.image), 'ghcr.io/sluice-mesh/proxy:1.2.3');
    assert.equal(imageString(v.controller.image), 'ghcr.io/sluice-mesh/controller:1.2.3');
    assert.equal(imageString(v.proxyInit.image), 'ghcr.io/sluice-mesh/proxy:1.2.3');
    assert.equal(v.proxy.uid, 2102);
    assert.deepEqual(v.proxy.ports, { inbound: 4143, outbound: 4140, admin: 4191, tap: 4190 });
    assert.equal(v.proxy.opaquePorts, '25,587,3306,4444,5432,6379,9300,11211');
    assert.equal(v.proxy.await, true);
    assert.equal(controllerIdentity(v), 'sluice-controller.sluice.serviceaccount.identity.sluice.cluster.local');
    assert.equal(identityName(v, 'default', 'emojivoto'), 'default.emojivoto.serviceaccount.identity.sluice.cluster.local');
  });

  it('merges flags over a file over the defaults, field by field', () => {
    const file = parseValuesYaml(
      ['# team values', 'identity:', '  trustDomain: example.org', 'proxy:', '  logLevel: debug', '  resources:', '    cpu: {limit: "2"}', '  opaquePorts: [25, "8000-8010"]', ''].join('\n'),
      'values.yaml',
    );
    const flags = checkValuesOverride({ proxy: { logLevel: 'trace', image: { version: 'dev' } } }, { name: 'flags' });
    const v = mergeValues(defaultValues('0.1.0'), file, flags);
    assert.equal(v.identity.trustDomain, 'example.org');
    assert.equal(v.clusterDomain, 'cluster.local');
    assert.equal(v.proxy.logLevel, 'trace');
    assert.deepEqual(v.proxy.resources.cpu, { request: '100m', limit: '2' });
    assert.equal(v.proxy.opaquePorts, '25,8000-8010');
    assert.deepEqual(v.proxy.image, { name: 'ghcr.io/sluice-mesh/proxy', version: 'dev' });
    // The defaults object itself is not changed by merging.
    assert.equal(defaultValues('0.1.0').proxy.logLevel, 'warn,sluice=info');
  });

  it('names the field, file, line and column of a bad value', () => {
    const text = 'proxy:\n  resources:\n    memory:\n      limit: lots\n';
    assert.throws(() => parseValuesYaml(text, 'v.yaml'), (e: unknown) => {
      assert.ok(e instanceof ValuesError);
      assert.equal(e.field, 'proxy.resources.memory.limit');
      assert.match(e.message, /^v\.yaml:4:14: proxy\.resources\.memory\.limit: "lots" is not a Kubernetes quantity/);
      return true;
    });
  });

  it('rejects unknown fields, listing the known ones', () => {
    assert.throws(() => parseValuesYaml('proxy:\n  imgae: x\n', 'v.yaml'), /v\.yaml:2:10: proxy\.imgae: unknown field \(known here: image, uid/);
  });

  it('rejects wrong types, bad ports, log levels and YAML syntax', () => {
    assert.throws(() => parseValuesYaml('proxy: 3\n', 'v.yaml'), /v\.yaml:1:8: proxy: expected a mapping, got number 3/);
    assert.throws(() => parseValuesYaml('proxy:\n  uid: "2102"\n', 'v.yaml'), /proxy\.uid: expected an integer 1–2147483647, got string "2102"/);
    assert.throws(() => parseValuesYaml('proxyInit:\n  skipInboundPorts: "25,70000"\n', 'v.yaml'), /skipInboundPorts: string "70000" is not a port/);
    assert.throws(() => parseValuesYaml('proxy:\n  logLevel: loud\n', 'v.yaml'), /proxy\.logLevel: "loud" is not a log level/);
    assert.throws(() => parseValuesYaml('proxy:\n  await: yes please\n', 'v.yaml'), /proxy\.await: expected true or false/);
    assert.throws(() => parseValuesYaml('proxy: [\n', 'v.yaml'), /^ValuesError: v\.yaml:\d+:\d+: \(file\): not valid YAML/);
    assert.throws(() => parseValuesYaml('a: 1\na: 2\n', 'v.yaml'), /not valid YAML/);
    assert.throws(() => parseValuesYaml('- 1\n', 'v.yaml'), /\(top level\): expected a mapping, got a list/);
    assert.throws(() => checkValuesOverride({ clusterDomain: 'Bad_Domain' }, { name: '--cluster-domain' }), /^ValuesError: --cluster-domain: clusterDomain: "Bad_Domain" is not a DNS name/);
    assert.throws(() => checkValuesOverride({ proxy: { image: { name: 'x:tag' } } }, { name: 'flags' }), /proxy\.image\.name: "x:tag" is not an image repository/);
  });

  it('an empty file is an empty layer', () => {
    assert.deepEqual(parseValuesYaml('', 'v.yaml'), {});
    assert.deepEqual(parseValuesYaml('# nothing\n', 'v.yaml'), {});
  });

  it('checks trust anchors are PEM certificates and requires them for injection', () => {
    assert.throws(() => checkValuesOverride({ identity: { trustAnchorsPEM: 'hello' } }, { name: 'flags' }), /no BEGIN CERTIFICATE/);
    assert.throws(
      () => checkValuesOverride({ identity: { trustAnchorsPEM: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n' } }, { name: 'flags' }),
      /identity\.trustAnchorsPEM: is not a valid PEM certificate/,
    );
    assert.throws(() => requireTrustAnchors(defaultValues('0.1.0')), /identity\.trustAnchorsPEM: no trust anchors given \(sluice install generates them\)/);
  });
});
