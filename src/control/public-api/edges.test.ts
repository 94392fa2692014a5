// Edges from reports as proxies send them (client_id / server_id / no_tls_reason on scopes and
// transports, each proxy's own identity): secured only when every report of the edge was mTLS and
// both identities are known; the window, the namespace, the resource type; bounded memory.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ReportRequest, RequestScope, TransportReport } from '../../api/telemetry-messages.ts';
import { PeerIdentities } from '../telemetry/peer-identities.ts';
import { edges } from './edges.ts';

const id = (sa: string, ns = 'emojivoto'): string => `${sa}.${ns}.serviceaccount.identity.sluice.cluster.local`;
const NOW = 1_000_000_000;

interface Side {
  readonly pod: string;
  readonly workload: string;
  readonly ns?: string;
  readonly identity?: string;
}

function report(side: Side, direction: 'INBOUND' | 'OUTBOUND', requests: RequestScope[], transports: TransportReport[] = []): ReportRequest {
  return {
    process: { scheduled_instance: side.pod, scheduled_namespace: side.ns ?? 'emojivoto', workload: side.workload, ...(side.identity === undefined ? {} : { identity: side.identity }) },
    proxy: direction,
    requests,
    ...(direction === 'INBOUND' ? { server_transports: transports } : { client_transports: transports }),
  };
}

const dstLabels = (deployment: string, pod: string, ns = 'emojivoto'): Record<string, string> => ({ namespace: ns, deployment, pod, service: `${deployment}-svc` });
const scope = (ctx: RequestScope['ctx']): RequestScope => ({ ctx, count: 5 });

const WEB: Side = { pod: 'web-1', workload: 'deployment/web', identity: id('web') };
const EMOJI: Side = { pod: 'emoji-1', workload: 'deployment/emoji', identity: id('emoji') };
const VOTING: Side = { pod: 'voting-1', workload: 'deployment/voting', identity: id('voting') };
const BOT: Side = { pod: 'bot-1', workload: 'deployment/vote-bot', identity: id('default') };

/** web → emoji over mTLS (both sides reported), web → voting over TCP mTLS, vote-bot → web in plaintext. */
function meshIndex(at = NOW): PeerIdentities {
  const index = new PeerIdentities();
  index.observe(report(WEB, 'OUTBOUND', [scope({ dst_labels: dstLabels('emoji', 'emoji-1'), tls: 'true', server_id: id('emoji') })]), at);
  index.observe(report(EMOJI, 'INBOUND', [scope({ tls: 'true', client_id: id('web') })]), at);
  index.observe(report(WEB, 'OUTBOUND', [], [{ dst_labels: dstLabels('voting', 'voting-1'), tls: 'true', server_id: id('voting'), connects: 1 }]), at);
  index.observe(report(VOTING, 'INBOUND', [], [{ tls: 'true', client_id: id('web'), connects: 1 }]), at);
  index.observe(report(BOT, 'OUTBOUND', [scope({ dst_labels: dstLabels('web', 'web-1'), tls: 'no_identity', no_tls_reason: 'not_provided_by_service_discovery' })]), at);
  index.observe(report(WEB, 'INBOUND', [scope({ tls: 'no_identity', no_tls_reason: 'no_tls_from_remote' })]), at);
  return index;
}

const list = (index: PeerIdentities | undefined, type: string, namespace = '', window = '1m', now = NOW) =>
  edges({ identities: index, now: () => now }, { selector: { resource: { namespace, type } }, time_window: window });

describe('Edges', () => {
  it('an mTLS edge names both identities and is secured; a plaintext one says why not', () => {
    const rows = list(meshIndex(), 'deploy').ok?.edges ?? [];
    assert.deepEqual(
      rows.map((e) => [e.src?.name, e.dst?.name, e.secured, e.client_id, e.server_id, e.no_identity_msg]),
      [
        ['vote-bot', 'web', false, '', '', 'not_provided_by_service_discovery'],
        ['web', 'emoji', true, id('web'), id('emoji'), ''],
        ['web', 'voting', true, id('web'), id('voting'), ''],
      ],
    );
    assert.deepEqual(rows[1]?.src, { namespace: 'emojivoto', type: 'deployment', name: 'web' });
  });

  it('an edge with some plaintext traffic is not secured, whatever else went over mTLS', () => {
    const index = meshIndex();
    index.observe(report(WEB, 'OUTBOUND', [scope({ dst_labels: dstLabels('emoji', 'emoji-1'), tls: 'disabled' })]), NOW);
    const edge = list(index, 'deploy').ok?.edges?.find((e) => e.dst?.name === 'emoji');
    assert.equal(edge?.secured, false);
    assert.equal(edge?.server_id, id('emoji'));
    assert.equal(edge?.no_identity_msg, 'tls=disabled');
  });

  it("not secured when the destination never reported the caller's identity (or the caller never said its own)", () => {
    const index = new PeerIdentities();
    index.observe(report(WEB, 'OUTBOUND', [scope({ dst_labels: dstLabels('emoji', 'emoji-1'), tls: 'true', server_id: id('emoji') })]), NOW);
    index.observe(report(EMOJI, 'INBOUND', [scope({ tls: 'true', client_id: id('someone-else') })]), NOW);
    const [edge] = list(index, 'deploy').ok?.edges ?? [];
    assert.equal(edge?.secured, false);
    assert.equal(edge?.client_id, '');
    assert.match(edge?.no_identity_msg ?? '', /verified no client identity/);
  });

  it('rows per pod as well; -n keeps edges with either end in the namespace', () => {
    const index = meshIndex();
    const pods = list(index, 'po').ok?.edges ?? [];
    assert.deepEqual(pods.map((e) => `${e.src?.name}>${e.dst?.name}:${e.secured}`), ['bot-1>web-1:false', 'web-1>emoji-1:true', 'web-1>voting-1:true']);
    const other: Side = { pod: 'books-1', workload: 'deployment/books', ns: 'shop', identity: id('books', 'shop') };
    index.observe(report(other, 'OUTBOUND', [scope({ dst_labels: dstLabels('emoji', 'emoji-1'), tls: 'true', server_id: id('emoji') })]), NOW);
    assert.deepEqual(list(index, 'deploy', 'shop').ok?.edges?.map((e) => `${e.src?.namespace}/${e.src?.name}>${e.dst?.name}`), ['shop/books>emoji']);
    assert.equal(list(index, 'deploy', 'emojivoto').ok?.edges?.length, 4);
    assert.equal(list(index, 'deploy', 'elsewhere').ok?.edges?.length, 0);
  });

  it('only what was reported within the window', () => {
    const index = meshIndex(NOW - 5 * 60_000);
    assert.equal(list(index, 'deploy', '', '1m').ok?.edges?.length, 0);
    assert.equal(list(index, 'deploy', '', '10m').ok?.edges?.length, 3);
  });

  it('clear errors: a type without pods of its own, a bad window, no reports kept (Prometheus)', () => {
    assert.match(list(meshIndex(), 'svc').error?.error ?? '', /per workload type or pod/);
    assert.match(list(meshIndex(), 'bogus').error?.error ?? '', /per workload type or pod/);
    assert.match(list(meshIndex(), 'deploy', '', '2d').error?.error ?? '', /invalid time window/);
    assert.match(list(undefined, 'deploy').error?.error ?? '', /prometheus-url/);
  });
});

describe('PeerIdentities bounds', () => {
  it('keeps at most maxEntries (oldest out first) and forgets what was not seen for an hour', () => {
    const index = new PeerIdentities(3);
    for (let i = 0; i < 5; i++) index.observe(report(WEB, 'OUTBOUND', [scope({ dst_labels: dstLabels(`d${i}`, `d${i}-1`), tls: 'true', server_id: id(`d${i}`) })]), NOW + i);
    assert.equal(index.size, 3);
    assert.deepEqual([...index.since(0)].map((s) => s.peer), [id('d2'), id('d3'), id('d4')]);
    index.maintain(NOW + 3 + 3_600_000);
    assert.deepEqual([...index.since(0)].map((s) => s.peer), [id('d3'), id('d4')]);
    assert.equal(index.podIdentity('emojivoto', 'web-1'), id('web'));
  });

  it('an entry evicted while its proxy keeps reporting is made again, not updated in the dark', () => {
    const index = new PeerIdentities(1);
    const toEmoji = report(WEB, 'OUTBOUND', [scope({ dst_labels: dstLabels('emoji', 'emoji-1'), tls: 'true', server_id: id('emoji') })]);
    index.observe(toEmoji, NOW);
    index.observe(report(BOT, 'OUTBOUND', [scope({ dst_labels: dstLabels('web', 'web-1'), tls: 'true', server_id: id('web') })]), NOW + 1);
    assert.deepEqual([...index.since(0)].map((s) => s.peer), [id('web')]);
    index.observe(toEmoji, NOW + 2);
    assert.deepEqual([...index.since(0)].map((s) => [s.peer, s.lastSeen]), [[id('emoji'), NOW + 2]]);
  });

  it('skips route scopes and outbound traffic without a destination; repeats refresh one entry', () => {
    const index = new PeerIdentities();
    index.observe(
      report(WEB, 'OUTBOUND', [
        scope({ dst_labels: dstLabels('emoji', 'emoji-1'), tls: 'true', server_id: id('emoji'), route_scope: true }),
        scope({ tls: 'no_identity', no_tls_reason: 'not_provided_by_service_discovery' }),
        scope({ dst_labels: dstLabels('emoji', 'emoji-1'), tls: 'true', server_id: id('emoji'), authority: 'a:80' }),
        scope({ dst_labels: dstLabels('emoji', 'emoji-1'), tls: 'true', server_id: id('emoji'), authority: 'b:80' }),
      ]),
      NOW,
    );
    index.observe(report(WEB, 'OUTBOUND', [scope({ dst_labels: dstLabels('emoji', 'emoji-1'), tls: 'true', server_id: id('emoji') })]), NOW + 10);
    const seen = [...index.since(0)];
    assert.equal(seen.length, 1);
    assert.equal(seen[0]?.lastSeen, NOW + 10);
  });
});
