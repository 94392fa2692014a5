// The proxy's identity end to end: the real controller (issuer files, local-mesh tokens, certificates
// that live 20 s) and the real proxy as child processes on loopback. A proxy is not ready until it
// holds a certificate; a refused token is logged with the reason and retried (the token file is read
// again, so fixing it is enough); the metrics carry the certificate's expiry and the count of
// certificates; renewal happens at 70 % of the lifetime while the proxy stays ready; an Identity
// service that cannot prove the expected name is refused.
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { identityName, DEFAULT_IDENTITY_DOMAIN, controllerIdentityName } from '../../api/identity-name.ts';
import { createLocalToken, formatTokenKey, generateTokenKey } from '../../control/identity/local-token.ts';
import { certificatesToPem } from '../../control/identity/pki.ts';
import { eventually, tempDir, testPki, writeIssuerFiles } from '../../control/identity/testkit.ts';
import { startControllerProcess, type ControllerProcess } from '../../../test/support/controller-process.ts';
import { restartablePort } from '../../../test/support/net.ts';
import { metricValue, startProxy, type RunningProxy } from '../../../test/support/proxy.ts';

const WEB = identityName({ serviceAccount: 'web', namespace: 'shop' }, DEFAULT_IDENTITY_DOMAIN);
const CONTROLLER = controllerIdentityName(DEFAULT_IDENTITY_DOMAIN);
const LIFETIME_S = 20;

/** The real controller with identity from the files in `dir`, Identity on `identityAddr`. */
async function startIdentityController(dir: string, files: { certificate: string; key: string; anchors: string }, identityAddr = '127.0.0.1:0') {
  writeFileSync(path.join(dir, 'mesh.yaml'), 'namespaces: {}\n');
  const controller = await startControllerProcess([
    '--discovery=file',
    `--discovery-file=${path.join(dir, 'mesh.yaml')}`,
    `--identity-addr=${identityAddr}`,
    `--identity-issuer-cert=${files.certificate}`,
    `--identity-issuer-key=${files.key}`,
    `--identity-trust-anchors=${files.anchors}`,
    `--identity-token-key=${path.join(dir, 'token.key')}`,
    `--identity-issuance-lifetime=${LIFETIME_S}s`,
  ]);
  const match = /controller ready.* identity=(\S+)/.exec(controller.logs());
  assert.ok(match !== null, `the controller names its identity address:\n${controller.logs()}`);
  return { controller, identityAddr: match[1] as string };
}

describe('proxy identity against the real controller', { timeout: 120_000 }, () => {
  let dir = '';
  let key: Buffer;
  let anchorsPem = '';
  let controller: ControllerProcess;
  let identityAddr = '';
  const proxies: RunningProxy[] = [];

  before(async () => {
    dir = tempDir();
    const pki = await testPki();
    anchorsPem = certificatesToPem([pki.anchor.certificate]);
    const files = await writeIssuerFiles(dir, pki.issuer, [pki.anchor]);
    key = generateTokenKey();
    writeFileSync(path.join(dir, 'token.key'), formatTokenKey(key));
    ({ controller, identityAddr } = await startIdentityController(dir, files));
  });

  after(async () => {
    await Promise.all(proxies.map((p) => p.stop('SIGKILL')));
    await controller?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  function identityEnv(tokenFile: string, over: Record<string, string> = {}): Record<string, string> {
    return {
      SLUICE_PROXY_IDENTITY_DIR: dir,
      SLUICE_PROXY_IDENTITY_TRUST_ANCHORS: anchorsPem,
      SLUICE_PROXY_IDENTITY_TOKEN_FILE: tokenFile,
      SLUICE_PROXY_IDENTITY_LOCAL_NAME: WEB,
      SLUICE_PROXY_IDENTITY_SVC_ADDR: identityAddr,
      SLUICE_PROXY_IDENTITY_SVC_NAME: CONTROLLER,
      // Retries every second at most, so that a fixed token is picked up quickly.
      SLUICE_PROXY_CONTROL_EXP_BACKOFF_MAX: '1s',
      ...over,
    };
  }

  async function start(env: Record<string, string>): Promise<RunningProxy> {
    const proxy = await startProxy(env);
    proxies.push(proxy);
    return proxy;
  }

  const readyStatus = async (proxy: RunningProxy): Promise<number> => (await fetch(`http://127.0.0.1:${proxy.admin.port}/ready`)).status;

  test('not ready while its token is refused (logged, retried); ready once the token file is fixed', async () => {
    const tokenFile = path.join(dir, 'web-token');
    // A token signed with another key: the controller answers FAILED_PRECONDITION.
    writeFileSync(tokenFile, createLocalToken(generateTokenKey(), { serviceAccount: 'web', namespace: 'shop' }));
    const proxy = await start(identityEnv(tokenFile, { SLUICE_PROXY_WORKERS: '1' }));
    await eventually('two refused attempts in the log', () => (proxy.logs().match(/cannot obtain a certificate; not ready; retrying/g) ?? []).length >= 2, 15_000);
    assert.match(proxy.logs(), /FAILED_PRECONDITION: token signature does not verify/);
    assert.equal(await readyStatus(proxy), 503);
    assert.equal(metricValue(await proxy.metrics(), 'identity_cert_refresh_count'), 0);
    assert.doesNotMatch(await proxy.metrics(), /^identity_cert_expiration_timestamp_seconds /m);

    writeFileSync(tokenFile, createLocalToken(key, { serviceAccount: 'web', namespace: 'shop' }));
    await eventually('/ready 200', async () => (await readyStatus(proxy)) === 200, 15_000);
    assert.match(proxy.logs(), /certified: identity ready identity=web\.shop\.serviceaccount\.identity\.sluice\.cluster\.local/);
  });

  test('metrics carry the expiry and the count; renewal at 70 % of the lifetime keeps it ready', async () => {
    const tokenFile = path.join(dir, 'web-token-2');
    writeFileSync(tokenFile, createLocalToken(key, { serviceAccount: 'web', namespace: 'shop' }));
    const proxy = await start(identityEnv(tokenFile, { SLUICE_PROXY_WORKERS: '0' }));
    await eventually('/ready 200', async () => (await readyStatus(proxy)) === 200, 15_000);
    const certifiedAt = Date.now() / 1000;
    const first = await proxy.metrics();
    assert.equal(metricValue(first, 'identity_cert_refresh_count'), 1);
    const expiry = metricValue(first, 'identity_cert_expiration_timestamp_seconds');
    // The controller issued it for 20 s from (about) now.
    assert.ok(Math.abs(expiry - (certifiedAt + LIFETIME_S)) < 5, `expiry ${expiry} vs certified at ${certifiedAt}`);

    // 70 % of 20 s: the renewal comes after ~14 s.
    let readyThroughout = true;
    await eventually(
      'a renewed certificate',
      async () => {
        if ((await readyStatus(proxy)) !== 200) readyThroughout = false;
        return metricValue(await proxy.metrics(), 'identity_cert_refresh_count') >= 2;
      },
      30_000,
    );
    const renewedAfter = Date.now() / 1000 - certifiedAt;
    assert.ok(renewedAfter > 10 && renewedAfter < 20, `renewed ${renewedAfter.toFixed(1)} s after the first certificate`);
    assert.equal(readyThroughout, true);
    assert.ok(metricValue(await proxy.metrics(), 'identity_cert_expiration_timestamp_seconds') > expiry);
    assert.match(proxy.logs(), /certificate renewed identity=web\.shop/);
  });

  test('an Identity service that cannot prove the expected name is refused', async () => {
    const tokenFile = path.join(dir, 'web-token-3');
    writeFileSync(tokenFile, createLocalToken(key, { serviceAccount: 'web', namespace: 'shop' }));
    const impostor = identityName({ serviceAccount: 'other', namespace: 'sluice' }, DEFAULT_IDENTITY_DOMAIN);
    const proxy = await start(identityEnv(tokenFile, { SLUICE_PROXY_WORKERS: '0', SLUICE_PROXY_IDENTITY_SVC_NAME: impostor }));
    await eventually('two refused attempts in the log', () => (proxy.logs().match(/cannot obtain a certificate; not ready; retrying/g) ?? []).length >= 2, 15_000);
    assert.match(proxy.logs(), /UNAVAILABLE: .*(does not match|altnames|Hostname)/i);
    assert.equal(await readyStatus(proxy), 503);
    assert.equal(metricValue(await proxy.metrics(), 'identity_cert_refresh_count'), 0);
  });

  test('with identity disabled the proxy is ready without asking', async () => {
    const proxy = await start(identityEnv(path.join(dir, 'missing'), { SLUICE_PROXY_WORKERS: '0', SLUICE_PROXY_IDENTITY_DISABLED: 'true' }));
    assert.equal(await readyStatus(proxy), 200);
    assert.doesNotMatch(await proxy.metrics(), /identity_cert_refresh_count/);
  });
});

describe('a proxy started before the controller', { timeout: 90_000 }, () => {
  test('is not ready while the Identity service is down, and ready within seconds once it is up', async () => {
    const dir = tempDir();
    const pki = await testPki();
    const files = await writeIssuerFiles(dir, pki.issuer, [pki.anchor]);
    const key = generateTokenKey();
    writeFileSync(path.join(dir, 'token.key'), formatTokenKey(key));
    const tokenFile = path.join(dir, 'token');
    writeFileSync(tokenFile, createLocalToken(key, { serviceAccount: 'web', namespace: 'shop' }));
    const addr = `127.0.0.1:${await restartablePort()}`;
    const proxy = await startProxy({
      SLUICE_PROXY_WORKERS: '0',
      SLUICE_PROXY_IDENTITY_DIR: dir,
      SLUICE_PROXY_IDENTITY_TRUST_ANCHORS: certificatesToPem([pki.anchor.certificate]),
      SLUICE_PROXY_IDENTITY_TOKEN_FILE: tokenFile,
      SLUICE_PROXY_IDENTITY_LOCAL_NAME: WEB,
      SLUICE_PROXY_IDENTITY_SVC_ADDR: addr,
      SLUICE_PROXY_IDENTITY_SVC_NAME: CONTROLLER,
      SLUICE_PROXY_CONTROL_EXP_BACKOFF_MAX: '2s',
    });
    let controller: ControllerProcess | undefined;
    try {
      await eventually('five failed attempts', () => (proxy.logs().match(/cannot obtain a certificate; not ready; retrying/g) ?? []).length >= 5, 20_000);
      assert.equal((await fetch(`http://127.0.0.1:${proxy.admin.port}/ready`)).status, 503);
      assert.match(proxy.logs(), /UNAVAILABLE/);
      ({ controller } = await startIdentityController(dir, files, addr));
      const up = Date.now();
      await eventually('/ready 200', async () => (await fetch(`http://127.0.0.1:${proxy.admin.port}/ready`)).status === 200, 15_000);
      // The proxy's backoff is capped at 2 s (plus 10 % jitter) and the channel's reconnects follow it.
      assert.ok(Date.now() - up < 4_000, `ready ${Date.now() - up} ms after the controller came up`);
    } finally {
      await proxy.stop('SIGKILL');
      await controller?.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a renewal while the controller is down', { timeout: 120_000 }, () => {
  test('fails with the reason logged, the proxy stays ready on its current certificate, and renews once the controller is back', async () => {
    const dir = tempDir();
    const pki = await testPki();
    const files = await writeIssuerFiles(dir, pki.issuer, [pki.anchor]);
    const key = generateTokenKey();
    writeFileSync(path.join(dir, 'token.key'), formatTokenKey(key));
    const tokenFile = path.join(dir, 'token');
    writeFileSync(tokenFile, createLocalToken(key, { serviceAccount: 'web', namespace: 'shop' }));
    const addr = `127.0.0.1:${await restartablePort()}`;
    let { controller } = await startIdentityController(dir, files, addr);
    const proxy = await startProxy({
      SLUICE_PROXY_WORKERS: '1',
      SLUICE_PROXY_IDENTITY_DIR: dir,
      SLUICE_PROXY_IDENTITY_TRUST_ANCHORS: certificatesToPem([pki.anchor.certificate]),
      SLUICE_PROXY_IDENTITY_TOKEN_FILE: tokenFile,
      SLUICE_PROXY_IDENTITY_LOCAL_NAME: WEB,
      SLUICE_PROXY_IDENTITY_SVC_ADDR: addr,
      SLUICE_PROXY_IDENTITY_SVC_NAME: CONTROLLER,
      SLUICE_PROXY_CONTROL_EXP_BACKOFF_MAX: '1s',
    });
    const ready = async (): Promise<number> => (await fetch(`http://127.0.0.1:${proxy.admin.port}/ready`)).status;
    try {
      await eventually('/ready 200', async () => (await ready()) === 200, 15_000);
      const expiry = metricValue(await proxy.metrics(), 'identity_cert_expiration_timestamp_seconds');
      await controller.stop();

      // The renewal is due after ~14 s of the 20 s lifetime; it fails while the controller is down.
      await eventually('a failed renewal in the log', () => /cannot renew the certificate; still using the current one; retrying/.test(proxy.logs()), 25_000);
      assert.match(proxy.logs(), /cannot renew the certificate; still using the current one; retrying identity=web\.shop\S* reason="UNAVAILABLE: [^"]+"/);
      assert.equal(await ready(), 200, 'still ready on the current certificate');
      const during = await proxy.metrics();
      assert.equal(metricValue(during, 'identity_cert_refresh_count'), 1);
      assert.equal(metricValue(during, 'identity_cert_expiration_timestamp_seconds'), expiry);

      ({ controller } = await startIdentityController(dir, files, addr));
      await eventually('the renewal', async () => metricValue(await proxy.metrics(), 'identity_cert_refresh_count') === 2, 10_000);
      assert.ok(metricValue(await proxy.metrics(), 'identity_cert_expiration_timestamp_seconds') > expiry);
      assert.equal(await ready(), 200);
    } finally {
      await proxy.stop('SIGKILL');
      await controller.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('proxy identity configuration errors', { timeout: 30_000 }, () => {
  test('some but not all identity variables: the proxy does not start and says which are missing', async () => {
    await assert.rejects(
      startProxy({ SLUICE_PROXY_IDENTITY_LOCAL_NAME: WEB }),
      /invalid configuration: SLUICE_PROXY_IDENTITY_LOCAL_NAME=.*also set SLUICE_PROXY_IDENTITY_DIR, SLUICE_PROXY_IDENTITY_TRUST_ANCHORS/,
    );
  });
});
