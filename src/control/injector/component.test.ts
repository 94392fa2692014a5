// The injector's configuration: the webhook flags and the values it builds sidecars from.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fixtureText, TRUST_ANCHORS } from '../../inject/testkit.ts';
import { parseControllerConfig } from '../config.ts';
import { injectorValues } from './component.ts';

describe('injector configuration', () => {
  it('is off by default, on 8443 with a certificate and key, flags or SLUICE_CONTROLLER_* variables', () => {
    const off = parseControllerConfig([], {});
    assert.ok(off !== 'help');
    assert.deepEqual(off.injector, { addr: { host: '0.0.0.0', port: 8443 }, tlsCert: undefined, tlsKey: undefined, valuesFile: undefined, trustAnchorsFile: undefined });
    const on = parseControllerConfig(['--webhook-tls-cert=/tls/tls.crt', '--values=/config/values'], {
      SLUICE_CONTROLLER_WEBHOOK_TLS_KEY: '/tls/tls.key',
      SLUICE_CONTROLLER_IDENTITY_TRUST_ANCHORS_FILE: '/roots/ca-bundle.crt',
    });
    assert.ok(on !== 'help');
    assert.deepEqual(on.injector, {
      addr: { host: '0.0.0.0', port: 8443 },
      tlsCert: '/tls/tls.crt',
      tlsKey: '/tls/tls.key',
      valuesFile: '/config/values',
      trustAnchorsFile: '/roots/ca-bundle.crt',
    });
  });

  it('refuses a certificate without a key', () => {
    assert.throws(() => parseControllerConfig(['--webhook-tls-cert=/tls/tls.crt'], {}), /SLUICE_CONTROLLER_WEBHOOK_TLS_KEY="": the webhook needs both/);
  });

  it('builds values from the values file and the anchors file, naming a bad field', () => {
    const files: Record<string, string> = {
      '/config/values': 'proxy:\n  logLevel: debug\n',
      '/roots/ca-bundle.crt': TRUST_ANCHORS,
      '/config/bad': 'proxy:\n  uid: root\n',
    };
    const read = (f: string): string => files[f] ?? assert.fail(`no ${f}`);
    const config = { addr: { host: '0.0.0.0', port: 8443 }, tlsCert: 'c', tlsKey: 'k', valuesFile: '/config/values', trustAnchorsFile: '/roots/ca-bundle.crt' };
    const values = injectorValues(config, '1.0.0', read);
    assert.equal(values.proxy.logLevel, 'debug');
    assert.equal(values.proxy.image.version, '1.0.0');
    assert.equal(values.identity.trustAnchorsPEM, fixtureText('trust-anchors.pem'));
    assert.throws(() => injectorValues({ ...config, valuesFile: '/config/bad' }, '1.0.0', read), /\/config\/bad:2:8: proxy\.uid: expected an integer/);
    assert.throws(() => injectorValues({ ...config, trustAnchorsFile: undefined }, '1.0.0', read), /no trust anchors/);
  });
});
