// `--dashboard-addr`: Linkerd's 8084, on loopback outside a cluster (with a free port when taken) and on
// every address inside one; `off` turns the dashboard off; a bad address is refused with the flag's name.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseControllerConfig, type ControllerConfig } from '../config.ts';
import { ConfigError } from '../../config/parse.ts';

const parse = (argv: string[], env: Record<string, string> = {}): ControllerConfig => parseControllerConfig(argv, env) as ControllerConfig;

describe('the dashboard flags', () => {
  it('defaults to 127.0.0.1:8084 outside a cluster, moving elsewhere when it is taken', () => {
    assert.deepEqual(parse([]).dashboard, { addr: { host: '127.0.0.1', port: 8084 }, fallbackToFreePort: true });
  });

  it('defaults to 0.0.0.0:8084 in a cluster', () => {
    assert.deepEqual(parse([], { KUBERNETES_SERVICE_HOST: '10.0.0.1' }).dashboard, { addr: { host: '0.0.0.0', port: 8084 }, fallbackToFreePort: true });
  });

  it('takes an address from the flag or SLUICE_CONTROLLER_DASHBOARD_ADDR, which must then be free', () => {
    assert.deepEqual(parse(['--dashboard-addr', '127.0.0.1:9000']).dashboard, { addr: { host: '127.0.0.1', port: 9000 }, fallbackToFreePort: false });
    assert.deepEqual(parse([], { SLUICE_CONTROLLER_DASHBOARD_ADDR: '[::1]:0' }).dashboard, { addr: { host: '::1', port: 0 }, fallbackToFreePort: false });
  });

  it('is off with `off`, and refuses a malformed address naming the flag', () => {
    assert.equal(parse(['--dashboard-addr=off']).dashboard, undefined);
    assert.throws(() => parse(['--dashboard-addr', 'localhost']), (e: unknown) => e instanceof ConfigError && /--dashboard-addr/.test(e.message));
  });
});
