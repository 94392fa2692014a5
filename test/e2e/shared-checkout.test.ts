// The shared checkout's bookkeeping (no root needed): paths as the other users see them, the command
// prefix that mounts the checkout and the Node binary, and mount points that are removed afterwards.
// Running programs through it for real is test/e2e/transparent.test.ts.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { SharedCheckout } from './shared-checkout.ts';

it('maps checkout paths under a world-traversable directory, mounts both, and leaves nothing behind', () => {
  const shared = new SharedCheckout('/home/someone/src/sluice', '/home/someone/.nvm/node');
  const dir = dirname(shared.root);
  try {
    assert.equal(statSync(dir).mode & 0o777, 0o755);
    assert.equal(shared.path('/home/someone/src/sluice/bin/sluice-proxy.js'), join(shared.root, 'bin/sluice-proxy.js'));
    assert.throws(() => shared.path('/home/someone/src/other/x.js'), /not inside the checkout/);
    const prefix = shared.prefix();
    assert.deepEqual(prefix.slice(0, 5), ['unshare', '--mount', '--propagation', 'private', '--']);
    assert.deepEqual(prefix.slice(-4), ['/home/someone/src/sluice', shared.root, '/home/someone/.nvm/node', shared.node]);
  } finally {
    shared.remove();
  }
  assert.equal(existsSync(dir), false);
});
