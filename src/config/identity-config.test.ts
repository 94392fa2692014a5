// parseIdentityConfig: identity is on with all six variables, off with none or when disabled, and a
// partial or malformed set stops the proxy with a ConfigError naming the variable.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { certificatesToPem, createIssuer, createTrustAnchor } from '../control/identity/pki.ts';
import { parseIdentityConfig } from './identity-config.ts';
import { ConfigError } from './parse.ts';

let anchorPem = '';
let issuerPem = '';
before(async () => {
  const anchor = await createTrustAnchor();
  anchorPem = certificatesToPem([anchor.certificate]);
  issuerPem = certificatesToPem([(await createIssuer(anchor)).certificate]);
});

const LOCAL = 'web.shop.serviceaccount.identity.sluice.cluster.local';
const CONTROLLER = 'sluice-controller.sluice.serviceaccount.identity.sluice.cluster.local';

function full(): Record<string, string> {
  return {
    SLUICE_PROXY_IDENTITY_DIR: '/var/run/sluice/identity/end-entity',
    SLUICE_PROXY_IDENTITY_TRUST_ANCHORS: anchorPem,
    SLUICE_PROXY_IDENTITY_TOKEN_FILE: '/var/run/secrets/tokens/sluice-identity-token',
    SLUICE_PROXY_IDENTITY_LOCAL_NAME: LOCAL,
    SLUICE_PROXY_IDENTITY_SVC_ADDR: 'sluice-identity.sluice.svc.cluster.local:8080',
    SLUICE_PROXY_IDENTITY_SVC_NAME: CONTROLLER,
  };
}

function refused(env: Record<string, string>, variable: string, expected: RegExp): void {
  assert.throws(
    () => parseIdentityConfig(env),
    (error: unknown) => error instanceof ConfigError && error.variable === variable && expected.test(error.message),
  );
}

describe('parseIdentityConfig', () => {
  it('is off when no identity variable is set', () => {
    assert.equal(parseIdentityConfig({}), undefined);
  });

  it('is on with all six, each value as given', () => {
    const config = parseIdentityConfig(full());
    assert.ok(config !== undefined);
    assert.equal(config.localName, LOCAL);
    assert.equal(config.svcName, CONTROLLER);
    assert.deepEqual(config.svcAddr, { host: 'sluice-identity.sluice.svc.cluster.local', port: 8080 });
    assert.equal(config.tokenFile, '/var/run/secrets/tokens/sluice-identity-token');
    assert.equal(config.trustAnchorsPem.trim(), anchorPem.trim());
  });

  it('accepts a bundle of several anchors', () => {
    assert.ok(parseIdentityConfig({ ...full(), SLUICE_PROXY_IDENTITY_TRUST_ANCHORS: anchorPem + issuerPem }) !== undefined);
  });

  it('names every missing variable when only some are set', () => {
    const env = full();
    delete env['SLUICE_PROXY_IDENTITY_TOKEN_FILE'];
    delete env['SLUICE_PROXY_IDENTITY_SVC_NAME'];
    refused(env, 'SLUICE_PROXY_IDENTITY_DIR', /also set SLUICE_PROXY_IDENTITY_TOKEN_FILE, SLUICE_PROXY_IDENTITY_SVC_NAME/);
  });

  it('SLUICE_PROXY_IDENTITY_DISABLED=true turns it off even with everything set', () => {
    assert.equal(parseIdentityConfig({ ...full(), SLUICE_PROXY_IDENTITY_DISABLED: 'true' }), undefined);
    assert.ok(parseIdentityConfig({ ...full(), SLUICE_PROXY_IDENTITY_DISABLED: 'false' }) !== undefined);
    refused({ SLUICE_PROXY_IDENTITY_DISABLED: 'maybe' }, 'SLUICE_PROXY_IDENTITY_DISABLED', /true or false/);
  });

  it('DISABLED=false without the variables is a contradiction', () => {
    refused({ SLUICE_PROXY_IDENTITY_DISABLED: 'false' }, 'SLUICE_PROXY_IDENTITY_DISABLED', /enabled but not configured/);
  });

  it('refuses anchors that are not PEM, do not parse, or are not CAs', () => {
    refused({ ...full(), SLUICE_PROXY_IDENTITY_TRUST_ANCHORS: 'not a pem' }, 'SLUICE_PROXY_IDENTITY_TRUST_ANCHORS', /expected PEM certificates/);
    const mangled = anchorPem.replace(/\n[A-Za-z0-9+/]{20}/, '\nAAAAAAAAAAAAAAAAAAAA');
    refused({ ...full(), SLUICE_PROXY_IDENTITY_TRUST_ANCHORS: mangled }, 'SLUICE_PROXY_IDENTITY_TRUST_ANCHORS', /certificate 1 of 1 does not parse/);
    const truncated = anchorPem.replace(/\n[A-Za-z0-9+/=]+\n-----END/, '\n-----END');
    refused({ ...full(), SLUICE_PROXY_IDENTITY_TRUST_ANCHORS: truncated }, 'SLUICE_PROXY_IDENTITY_TRUST_ANCHORS', /does not parse/);
  });

  it('refuses names that are not DNS-like and an address without a port', () => {
    refused({ ...full(), SLUICE_PROXY_IDENTITY_LOCAL_NAME: 'Web Shop' }, 'SLUICE_PROXY_IDENTITY_LOCAL_NAME', /DNS-like/);
    refused({ ...full(), SLUICE_PROXY_IDENTITY_SVC_NAME: 'controller' }, 'SLUICE_PROXY_IDENTITY_SVC_NAME', /DNS-like/);
    refused({ ...full(), SLUICE_PROXY_IDENTITY_SVC_ADDR: 'sluice-identity' }, 'SLUICE_PROXY_IDENTITY_SVC_ADDR', /host:port/);
  });
});
