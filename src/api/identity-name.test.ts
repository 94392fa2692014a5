import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { controllerIdentityName, DEFAULT_IDENTITY_DOMAIN, identityName, parseIdentityName } from './identity-name.ts';

const domain = { controlPlaneNamespace: 'sluice', trustDomain: 'example.org' };

describe('identity names', () => {
  test('are <sa>.<ns>.serviceaccount.identity.<control-plane-ns>.<trust-domain>', () => {
    assert.equal(identityName({ serviceAccount: 'web', namespace: 'shop' }, domain), 'web.shop.serviceaccount.identity.sluice.example.org');
    assert.equal(
      identityName({ serviceAccount: 'default', namespace: 'emojivoto' }, DEFAULT_IDENTITY_DOMAIN),
      'default.emojivoto.serviceaccount.identity.sluice.cluster.local',
    );
  });

  test("the controller's name is its service account in its own namespace", () => {
    assert.equal(controllerIdentityName(DEFAULT_IDENTITY_DOMAIN), 'sluice-controller.sluice.serviceaccount.identity.sluice.cluster.local');
  });

  test('parse back to the service account they stand for', () => {
    assert.deepEqual(parseIdentityName('web.shop.serviceaccount.identity.sluice.example.org', domain), { serviceAccount: 'web', namespace: 'shop' });
  });

  test('under another domain, with extra labels or with bad labels are refused, saying why', () => {
    assert.match((parseIdentityName('web.shop.serviceaccount.identity.sluice.cluster.local', domain) as { error: string }).error, /not of the form/);
    assert.match((parseIdentityName('a.web.shop.serviceaccount.identity.sluice.example.org', domain) as { error: string }).error, /not of the form/);
    assert.match((parseIdentityName('Web.shop.serviceaccount.identity.sluice.example.org', domain) as { error: string }).error, /"Web" is not a DNS-1123 label/);
  });
});
