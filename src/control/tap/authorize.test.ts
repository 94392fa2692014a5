// Tap authorization in Kubernetes, through the real @kubernetes/client-node and the project's fake API
// server: the caller's token reviewed (TokenReview), then its user asked about (SubjectAccessReview:
// watch <kind>s/tap in tap.sluice.dev, the target's namespace and name); allowed, denied with a message
// naming the permission, unauthenticated, and an API server that fails. Then the whole path: `sluice tap`
// with a kubeconfig forwards its user's token to the public API, whose tap relay asks the fake.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AuthenticationV1Api, AuthorizationV1Api } from '@kubernetes/client-node';
import { kubeConfigFor } from '../../../test/fake-kube/client.ts';
import { FakeKube, type AccessReviewSpec, type TokenReviewStatus } from '../../../test/fake-kube/server.ts';
import { podsOnlyDiscovery, startController, type RunningController } from '../../../test/support/controller.ts';
import { runCli } from '../../cli/run.ts';
import type { CliIo } from '../../cli/io.ts';
import { PublicApiClient } from '../dashboard/api-client.ts';
import { publicApiComponent } from '../public-api/component.ts';
import { bearerToken, KubernetesTapAuthorizer, tapAttributes } from './authorize.ts';
import { tapComponent } from './component.ts';
import { TapRequestError, type Resource } from './resolve.ts';

/** Tokens the fake API server knows. */
const USERS: Record<string, TokenReviewStatus> = {
  'alice-token': { authenticated: true, user: { username: 'alice', uid: 'u-1', groups: ['devs', 'system:authenticated'] } },
  'bob-token': { authenticated: true, user: { username: 'bob', groups: ['system:authenticated'] } },
};

/** Alice may tap deployments in emojivoto (a RoleBinding to sluice-tap); nobody else may tap anything. */
function rbac(spec: AccessReviewSpec): { allowed: boolean; reason?: string } {
  const a = spec.resourceAttributes ?? {};
  const allowed =
    spec.user === 'alice' &&
    a['verb'] === 'watch' &&
    a['group'] === 'tap.sluice.dev' &&
    a['resource'] === 'deployments' &&
    a['subresource'] === 'tap' &&
    a['namespace'] === 'emojivoto';
  return allowed ? { allowed: true } : { allowed: false, reason: 'no RBAC policy matched' };
}

const WEB: Resource = { type: 'deployment', namespace: 'emojivoto', name: 'web' };

let fake: FakeKube;
before(async () => {
  fake = await FakeKube.start();
  fake.reviewTokens((spec) => USERS[spec.token] ?? { authenticated: false });
  fake.reviewAccess(rbac);
});
after(() => fake.close());

function authorizer(): KubernetesTapAuthorizer {
  const kc = kubeConfigFor(fake);
  const authentication = kc.makeApiClient(AuthenticationV1Api);
  const authorization = kc.makeApiClient(AuthorizationV1Api);
  return new KubernetesTapAuthorizer(
    {
      createTokenReview: (body) => authentication.createTokenReview({ body }),
      createSubjectAccessReview: (body) => authorization.createSubjectAccessReview({ body }),
    },
    'sluice',
  );
}

const refusal = (code: number, message: RegExp) => (error: unknown) => error instanceof TapRequestError && error.code === code && message.test(error.message);

describe('KubernetesTapAuthorizer against the fake API server', { timeout: 30_000 }, () => {
  test('a user RBAC allows: the token reviewed for the API server audience, the access review in tap terms', async () => {
    const tokens = fake.tokenReviews.length;
    const accesses = fake.accessReviews.length;
    assert.equal(await authorizer().authorize({ authorization: 'Bearer alice-token' }, WEB), 'alice');
    assert.deepEqual(fake.tokenReviews.slice(tokens), [{ token: 'alice-token' }]);
    assert.deepEqual(fake.accessReviews.slice(accesses), [
      {
        user: 'alice',
        uid: 'u-1',
        groups: ['devs', 'system:authenticated'],
        resourceAttributes: { verb: 'watch', group: 'tap.sluice.dev', version: 'v1alpha1', resource: 'deployments', subresource: 'tap', namespace: 'emojivoto', name: 'web' },
      },
    ]);
  });

  test('a user RBAC denies: PERMISSION_DENIED naming the user, the permission, where, and the roles that grant it', async () => {
    await assert.rejects(
      authorizer().authorize({ authorization: 'Bearer bob-token' }, WEB),
      refusal(
        7,
        /^tap denied: user "bob" may not watch deployments\/tap \(web\) in namespace emojivoto in API group tap\.sluice\.dev \(no RBAC policy matched\)\. The ClusterRoles sluice-tap-sluice .* and sluice-tap-admin-sluice .* kubectl create rolebinding tap-bob --clusterrole=sluice-tap-sluice --user=bob -n emojivoto$/,
      ),
    );
    // Alice's grant is for deployments in emojivoto only.
    await assert.rejects(authorizer().authorize({ authorization: 'Bearer alice-token' }, { type: 'namespace', namespace: '', name: 'emojivoto' }), refusal(7, /watch namespaces\/tap \(emojivoto\) in namespace emojivoto/));
    await assert.rejects(authorizer().authorize({ authorization: 'Bearer alice-token' }, { ...WEB, namespace: '' }), refusal(7, /in every namespace/));
  });

  test('no token, a token that is not a bearer token, or one the API server does not know: UNAUTHENTICATED', async () => {
    await assert.rejects(authorizer().authorize(undefined, WEB), refusal(16, /tap needs your Kubernetes credentials/));
    await assert.rejects(authorizer().authorize({ authorization: 'Basic YWxpY2U6eA==' }, WEB), refusal(16, /tap needs your Kubernetes credentials/));
    await assert.rejects(authorizer().authorize({ authorization: 'Bearer stolen' }, WEB), refusal(16, /the Kubernetes API does not accept your token/));
  });

  test('an API server that fails: UNAVAILABLE, saying which review failed', async () => {
    fake.fail(['create'], 500);
    try {
      await assert.rejects(authorizer().authorize({ authorization: 'Bearer alice-token' }, WEB), refusal(14, /TokenReview/));
    } finally {
      fake.heal();
    }
  });

  test('resource attributes and bearer tokens, pure', () => {
    assert.deepEqual(tapAttributes({ type: 'pod', namespace: 'a', name: '' }), {
      verb: 'watch',
      group: 'tap.sluice.dev',
      version: 'v1alpha1',
      resource: 'pods',
      subresource: 'tap',
      namespace: 'a',
      name: '',
    });
    assert.equal(bearerToken('Bearer abc'), 'abc');
    assert.equal(bearerToken('bearer abc '), 'abc');
    assert.equal(bearerToken('Bearer'), undefined);
    assert.equal(bearerToken(undefined), undefined);
  });
});

describe('sluice tap with a kubeconfig, through the public API, against the fake API server', { timeout: 30_000 }, () => {
  let controller: RunningController;
  let dir = '';

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'sluice-tap-authz-'));
    controller = await startController(podsOnlyDiscovery(() => []), [tapComponent({ authorizer: authorizer() }), publicApiComponent]);
  });
  after(async () => {
    await controller.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A kubeconfig whose user authenticates with `token`. */
  function kubeconfig(token: string): string {
    const file = path.join(dir, `${token}.kubeconfig`);
    writeFileSync(
      file,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'fake', cluster: { server: fake.url, 'insecure-skip-tls-verify': true } }],
        users: [{ name: 'me', user: { token } }],
        contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'me' } }],
        'current-context': 'fake',
      }),
    );
    return file;
  }

  async function tap(env: Record<string, string>, ...extra: string[]): Promise<{ code: number; err: string }> {
    const err: string[] = [];
    const io: CliIo = { env: { HOME: dir, ...env }, stdout: () => {}, stderr: (t) => void err.push(t) };
    const code = await runCli(['tap', 'deploy/web', '-n', 'emojivoto', '--api', controller.publicApi, ...extra], io);
    return { code, err: err.join('') };
  }

  test("a denied user is told the missing permission; an allowed one gets past authorization (to the relay's own answer)", async () => {
    const bob = await tap({ KUBECONFIG: kubeconfig('bob-token') });
    assert.equal(bob.code, 1);
    assert.match(bob.err, /tap denied: user "bob" may not watch deployments\/tap \(web\) in namespace emojivoto/);
    const alice = await tap({}, '--kubeconfig', kubeconfig('alice-token'));
    assert.equal(alice.code, 1);
    // No pods are known: the relay's NOT_FOUND, which only an authorized caller reaches.
    assert.match(alice.err, /no pods to tap for deployment\/web/);
  });

  test("the dashboard's client sends the credentials it is given (the controller's own in a cluster)", async () => {
    const failure = async (client: PublicApiClient): Promise<string> => {
      const abort = new AbortController();
      const error = await client
        .stream('TapByResource', { target: { resource: { namespace: 'emojivoto', type: 'deployment', name: 'web' } } }, () => {}, abort.signal)
        .then(() => undefined, (e: Error) => e);
      return error?.message ?? 'no error';
    };
    assert.match(await failure(new PublicApiClient(`http://${controller.publicApi}`, async () => 'Bearer alice-token')), /no pods to tap/);
    assert.match(await failure(new PublicApiClient(`http://${controller.publicApi}`)), /tap needs your Kubernetes credentials/);
  });

  test('without a kubeconfig nothing is sent, and a cluster controller says what is missing', async () => {
    const anonymous = await tap({});
    assert.equal(anonymous.code, 1);
    assert.match(anonymous.err, /tap needs your Kubernetes credentials/);
  });
});
