import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { DiscoveryFileError, parseDiscoveryFile, serviceState, type DiscoveryModel } from './parse.ts';
import { EMBEDDED_DEFAULT } from './file-discovery.ts';

const OPTIONS = { clusterDomain: 'cluster.local', controlPlaneNamespace: 'sluice', trustDomain: 'cluster.local' };
const FIXTURE = new URL('./testdata/emojivoto.yaml', import.meta.url);
const parse = (text: string): DiscoveryModel => parseDiscoveryFile(text, 'test.yaml', OPTIONS);

/** The problems of a file that must not parse, as `line:col message`. */
function problems(text: string): string[] {
  try {
    parse(text);
  } catch (error) {
    assert.ok(error instanceof DiscoveryFileError, String(error));
    return error.problems.map((p) => `${p.line}:${p.col} ${p.message}`);
  }
  assert.fail('the file parsed');
}

describe('parseDiscoveryFile: the example fixture', () => {
  const model = parse(readFileSync(FIXTURE, 'utf8'));

  test('namespaces, services, pods, profiles', () => {
    assert.deepEqual([...model.namespaces], ['emojivoto', 'client-ns']);
    assert.deepEqual([...model.services.keys()], [
      'emojivoto/web-svc',
      'emojivoto/emoji-svc',
      'emojivoto/legacy',
      'emojivoto/empty',
    ]);
    assert.deepEqual(
      model.pods.map((p) => `${p.namespace}/${p.name}`),
      ['emojivoto/vote-bot-7f9c-x2x2', 'emojivoto/web-5d8f-abcde', 'emojivoto/web-5d8f-fghij', 'emojivoto/emoji-0'],
    );
    assert.deepEqual([...model.profiles.keys()], [
      'emojivoto/web-svc.emojivoto.svc.cluster.local',
      'client-ns/web-svc.emojivoto.svc.cluster.local',
    ]);
  });

  test('a meshed endpoint: target port, Linkerd labels, identity, h2', () => {
    const state = serviceState(model, 'emojivoto', 'web-svc', 80, OPTIONS);
    assert.equal(state.kind, 'endpoints');
    assert.deepEqual(state.kind === 'endpoints' && state.labels, { namespace: 'emojivoto', service: 'web-svc' });
    assert.deepEqual(state.kind === 'endpoints' && state.endpoints[0], {
      ip: '10.42.0.11',
      port: 8080,
      weight: 10_000,
      labels: {
        namespace: 'emojivoto',
        pod: 'web-5d8f-abcde',
        serviceaccount: 'web',
        deployment: 'web',
        control_plane_ns: 'sluice',
      },
      identity: 'web.emojivoto.serviceaccount.identity.sluice.cluster.local',
      protocolHint: 'h2',
    });
  });

  test('ports: named ports, endpoint ports, ports the Service does not list', () => {
    const at = (svc: string, port: number): string[] => {
      const state = serviceState(model, 'emojivoto', svc, port, OPTIONS);
      return state.kind === 'endpoints' ? state.endpoints.map((e) => `${e.ip}:${e.port}`) : [state.kind];
    };
    assert.deepEqual(at('emoji-svc', 8080), ['10.42.0.21:8080']);
    assert.deepEqual(at('emoji-svc', 8801), ['10.42.0.21:8801']);
    assert.deepEqual(at('emoji-svc', 9999), ['10.42.0.21:9999']);
    assert.deepEqual(at('legacy', 80), ['10.42.0.40:9000']);
    assert.deepEqual(at('empty', 80), []);
    assert.deepEqual(at('nope', 80), ['not-found']);
  });

  test('an unmeshed endpoint given by address has no pod labels and no identity', () => {
    const state = serviceState(model, 'emojivoto', 'legacy', 80, OPTIONS);
    assert.deepEqual(state.kind === 'endpoints' && state.endpoints[0], {
      ip: '10.42.0.40',
      port: 9000,
      weight: 10_000,
      labels: {},
      identity: undefined,
      protocolHint: undefined,
    });
  });

  test('cluster IPs map to their Service', () => {
    assert.deepEqual([...model.serviceIps], [['10.96.0.10', { namespace: 'emojivoto', service: 'web-svc' }]]);
  });

  test('profiles keep the ServiceProfile spec shape', () => {
    const spec = model.profiles.get('emojivoto/web-svc.emojivoto.svc.cluster.local');
    assert.equal(spec?.routes?.length, 2);
    assert.deepEqual(spec?.routes?.[0], {
      name: 'GET /api/list',
      condition: { method: 'GET', pathRegex: '/api/list' },
      isRetryable: true,
      timeout: '300ms',
    });
    assert.deepEqual(spec?.retryBudget, { retryRatio: 0.3, minRetriesPerSecond: 5, ttl: '20s' });
    assert.deepEqual(spec?.opaquePorts, [3306]);
  });
});

describe('parseDiscoveryFile: forms', () => {
  test('the example in README.md is valid', () => {
    const readme = readFileSync(new URL('./README.md', import.meta.url), 'utf8');
    const example = /```yaml\n([\s\S]*?)```/.exec(readme)?.[1];
    assert.ok(example !== undefined);
    const model = parse(example);
    assert.equal(model.services.size, 4);
    assert.equal(model.profiles.size, 3);
    const emoji = serviceState(model, 'emojivoto', 'emoji-svc', 8801, OPTIONS);
    assert.deepEqual(
      emoji.kind === 'endpoints' && emoji.endpoints.map((e) => `${e.ip}:${e.port}`),
      ['10.42.0.21:9801', '127.0.0.1:19801'],
    );
  });

  test('the embedded default and an empty file are empty meshes', () => {
    for (const text of [EMBEDDED_DEFAULT, '', '# nothing\n']) {
      const model = parse(text);
      assert.equal(model.services.size, 0);
      assert.equal(model.pods.length, 0);
    }
  });

  test('endpoints referring to declared pods; pods not Running are not endpoints', () => {
    const model = parse(`
namespaces:
  ns:
    pods:
      a: {ip: 10.0.0.1, meshed: true, serviceAccount: sa, owner: {kind: StatefulSet, name: db}}
      b: {ip: 10.0.0.2, phase: Pending}
    services:
      db:
        ports: [5432]
        endpoints: [{pod: a}, {pod: b}, {pod: a, ip: 10.0.0.1}]
`);
    const state = serviceState(model, 'ns', 'db', 5432, OPTIONS);
    assert.deepEqual(
      state.kind === 'endpoints' && state.endpoints.map((e) => [e.ip, e.labels['statefulset'], e.identity]),
      [
        ['10.0.0.1', 'db', 'sa.ns.serviceaccount.identity.sluice.cluster.local'],
        ['10.0.0.1', 'db', 'sa.ns.serviceaccount.identity.sluice.cluster.local'],
      ],
    );
    assert.equal(model.pods.find((p) => p.name === 'a')?.owner?.kind, 'StatefulSet');
  });

  test('multi-port Services: per-port endpoint ports by number or name', () => {
    const model = parse(`
namespaces:
  ns:
    services:
      s:
        ports: [{port: 80, targetPort: 8080, name: http}, "9090:9091"]
        endpoints:
          - {ip: "::1", ports: {http: 18080, "9090": 19091}}
          - {ip: 127.0.0.2}
`);
    const at = (port: number): string[] => {
      const state = serviceState(model, 'ns', 's', port, OPTIONS);
      return state.kind === 'endpoints' ? state.endpoints.map((e) => `${e.ip}/${e.port}`) : [];
    };
    assert.deepEqual(at(80), ['::1/18080', '127.0.0.2/8080']);
    assert.deepEqual(at(9090), ['::1/19091', '127.0.0.2/9091']);
  });

  test('full ServiceProfile documents under serviceProfiles', () => {
    const model = parse(`
serviceProfiles:
  - apiVersion: linkerd.io/v1alpha2
    kind: ServiceProfile
    metadata: {name: web.ns.svc.cluster.local, namespace: ns, labels: {team: a}}
    spec:
      routes:
        - name: all
          condition: {pathRegex: "(?i)/Books/.*"}
          timeout: 1s
      dstOverrides:
        - {authority: web.ns.svc.cluster.local, weight: 1}
      opaquePorts: ["8000-8002"]
`);
    const spec = model.profiles.get('ns/web.ns.svc.cluster.local');
    assert.deepEqual(spec?.opaquePorts, [8000, 8001, 8002]);
    assert.equal(spec?.dstOverrides?.[0]?.weight, 1);
  });
});

describe('parseDiscoveryFile: errors carry line and column', () => {
  test('YAML syntax', () => {
    const [first] = problems('namespaces:\n  ns:\n    services: {a: [\n');
    assert.match(first ?? '', /^\d+:\d+ /);
  });

  test('duplicate keys', () => {
    assert.match(problems('namespaces:\n  ns: {}\n  ns: {}\n')[0] ?? '', /^3:3 .*unique/i);
  });

  test('unknown fields point at the key', () => {
    assert.deepEqual(problems('namespaces:\n  ns:\n    services:\n      web:\n        prots: [80]\n'), [
      '5:9 unknown field "prots" in service web (expected clusterIP, ports, endpoints)',
    ]);
  });

  test('bad values point at the value; every problem is listed', () => {
    const list = problems(`namespaces:
  ns:
    services:
      web:
        ports: [80, 70000]
        endpoints:
          - {ip: 10.0.0.300}
          - 10.0.0.1:99999
          - {pod: p, owner: nobody}
      Bad_Name: {}
    profiles:
      web:
        routes:
          - name: r
            condition: {pathRegex: "(", method: GET}
            timeout: 10 seconds
        retryBudget: {retryRatio: 0.2, ttl: 10s}
        dstOverrides: [{authority: web, weight: heavy}]
`);
    assert.deepEqual(list, [
      '5:21 port must be a whole number from 1 to 65535',
      '7:18 ip must be an IPv4 or IPv6 address',
      '8:13 "10.0.0.1:99999" is not an address (ip or ip:port)',
      '9:29 owner must be "<kind>/<name>" (e.g. deployment/web) or {kind, name}',
      '10:7 service name "Bad_Name" must be a DNS label (lower case letters, digits, "-")',
      '15:36 pathRegex is not a regular expression: Invalid regular expression: /(/: Unterminated group',
      '16:22 invalid duration "10 seconds" (expected e.g. 300ms, 1.5s, 1m30s)',
      '17:22 retryBudget needs minRetriesPerSecond',
      '18:49 invalid quantity "heavy" (expected e.g. 500m, 1, 0.25)',
    ]);
  });

  test('the error message names the file, line and column', () => {
    assert.throws(
      () => parseDiscoveryFile('namespaces:\n  ns:\n    pods:\n      p: {ip: nope}\n', 'mesh.yaml', OPTIONS),
      (error: Error) => error.message.startsWith('mesh.yaml:4:15: ip must be an IPv4 or IPv6 address (at namespaces.ns.pods.p.ip)'),
    );
  });

  test('cluster IPs must be IPs and unique', () => {
    const list = problems(`namespaces:
  a:
    services:
      x: {clusterIP: "fd00::1"}
      y: {clusterIP: [10.0.0.1, "FD00:0::1"]}
      z: {clusterIP: none}
`);
    assert.deepEqual(list, ['5:33 cluster IP FD00:0::1 is already used by a/x', '6:22 clusterIP must be an IPv4 or IPv6 address']);
  });

  test('pods described twice must agree', () => {
    const list = problems(`namespaces:
  ns:
    pods:
      a: {ip: 10.0.0.1}
    services:
      s:
        endpoints:
          - {pod: a, ip: 10.0.0.2}
          - {pod: b, ip: 10.0.0.3}
      t:
        endpoints:
          - {pod: b, ip: 10.0.0.4}
`);
    assert.deepEqual(list, ['8:26 ip differs from pod a declared under pods', '12:19 pod b is described differently by another endpoint']);
  });

  test('an endpoint needs an address; multi-port Services need per-port endpoint ports', () => {
    const list = problems(`namespaces:
  ns:
    services:
      s:
        ports: [80, 81]
        endpoints:
          - {pod: nameless}
          - 10.0.0.1:8080
`);
    assert.deepEqual(list, [
      '7:13 an endpoint needs an ip (or a pod that has one)',
      '8:13 a Service with several ports needs {ip, ports: {<port>: <endpoint port>}} per endpoint',
    ]);
  });
});
