// The controller's flags and variables: defaults, flags over SLUICE_CONTROLLER_* variables, and
// refusals that name the setting (identity settings here; more as they are added).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../config/parse.ts';
import { controllerDefaults, parseControllerConfig, type ControllerConfig } from './config.ts';

const parse = (argv: string[], env: Record<string, string> = {}): ControllerConfig => parseControllerConfig(argv, env) as ControllerConfig;

describe('controller configuration: identity', () => {
  test('defaults: Certify on 0.0.0.0:8080, 24 h certificates, no issuer files, no token key', () => {
    const config = controllerDefaults();
    assert.deepEqual(config.identityAddr, { host: '0.0.0.0', port: 8080 });
    assert.equal(config.identityIssuanceLifetimeMs, 24 * 3600_000);
    assert.equal(config.identityIssuerFiles, undefined);
    assert.equal(config.identityTokenKeyFile, undefined);
  });

  test('issuer files from flags or variables, flags winning', () => {
    const config = parse(['--identity-issuer-cert', '/f/issuer.crt', '--identity-addr', '127.0.0.1:9080'], {
      SLUICE_CONTROLLER_IDENTITY_ISSUER_CERT: '/env/issuer.crt',
      SLUICE_CONTROLLER_IDENTITY_ISSUER_KEY: '/env/issuer.key',
      SLUICE_CONTROLLER_IDENTITY_TRUST_ANCHORS: '/env/ca.crt',
      SLUICE_CONTROLLER_IDENTITY_ISSUANCE_LIFETIME: '2h',
    });
    assert.deepEqual(config.identityIssuerFiles, { certificate: '/f/issuer.crt', key: '/env/issuer.key', anchors: '/env/ca.crt' });
    assert.deepEqual(config.identityAddr, { host: '127.0.0.1', port: 9080 });
    assert.equal(config.identityIssuanceLifetimeMs, 2 * 3600_000);
  });

  test('refusals name the setting: issuer files apart, a lifetime too short or malformed', () => {
    assert.throws(
      () => parse(['--identity-issuer-cert', 'a.crt']),
      (error: Error) => error instanceof ConfigError && /^--identity-issuer-cert="a\.crt": the issuer files go together: also set SLUICE_CONTROLLER_IDENTITY_ISSUER_KEY and SLUICE_CONTROLLER_IDENTITY_TRUST_ANCHORS$/.test(error.message),
    );
    assert.throws(() => parse(['--identity-issuance-lifetime', '10s']), /--identity-issuance-lifetime="10s": expected at least 15s/);
    assert.throws(() => parse([], { SLUICE_CONTROLLER_IDENTITY_ISSUANCE_LIFETIME: 'a day' }), /SLUICE_CONTROLLER_IDENTITY_ISSUANCE_LIFETIME="a day": expected a duration/);
  });
});
