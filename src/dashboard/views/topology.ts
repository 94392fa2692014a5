// Who calls whom: workloads as nodes, an arrow per caller → callee labelled with success rate and RPS,
// laid out by d3-force (a small, well-kept force layout; the drawing is plain SVG). The same edges are
// listed in a table below the graph for keyboard and screen-reader users.
import { forceCenter, forceCollide, forceLink, forceManyBody, forceSimulation, type SimulationNodeDatum } from 'd3-force';
import { h, type ComponentChild } from 'preact';
import { useRef } from 'preact/hooks';
import type { TopologyEdge, TopologyNode, TopologyResponse } from '../../api/dashboard-messages.ts';
import { getJson, usePolled } from '../api.ts';
import { formatRps, formatSuccess, SHORT_TYPES, successLevel } from '../format.ts';
import { hrefOf, workloadHref } from '../router.ts';
import { successCell } from '../stat-table.ts';
import { Status } from './status.ts';

const WIDTH = 800;
const HEIGHT = 480;

interface Placed extends SimulationNodeDatum {
  id: string;
}

/** Positions for `nodes`, keeping those already placed: a refresh must not move the picture around. */
export function layout(nodes: readonly TopologyNode[], edges: readonly TopologyEdge[], previous: Map<string, Placed>): Map<string, Placed> {
  const placed = nodes.map((n, i) => previous.get(n.id) ?? { id: n.id, x: WIDTH / 2 + 150 * Math.cos((2 * Math.PI * i) / nodes.length), y: HEIGHT / 2 + 150 * Math.sin((2 * Math.PI * i) / nodes.length) });
  const known = new Set(nodes.map((n) => n.id));
  const links = edges.filter((e) => known.has(e.from) && known.has(e.to) && e.from !== e.to).map((e) => ({ source: e.from, target: e.to }));
  const fresh = placed.some((p) => !previous.has(p.id));
  if (fresh) {
    const simulation = forceSimulation(placed)
      .force('link', forceLink<Placed, { source: string; target: string }>(links).id((d) => d.id).distance(220))
      .force('charge', forceManyBody().strength(-600))
      .force('center', forceCenter(WIDTH / 2, HEIGHT / 2))
      .force('collide', forceCollide(70))
      .stop();
    for (let i = 0; i < 300; i++) simulation.tick();
  }
  for (const p of placed) {
    p.x = Math.max(80, Math.min(WIDTH - 80, p.x ?? 0));
    p.y = Math.max(40, Math.min(HEIGHT - 40, p.y ?? 0));
  }
  return new Map(placed.map((p) => [p.id, p]));
}

function label(node: TopologyNode): string {
  return `${SHORT_TYPES[node.type] ?? node.type}/${node.name}`;
}

function Graph(props: { data: TopologyResponse }): ComponentChild {
  const positions = useRef(new Map<string, Placed>());
  positions.current = layout(props.data.nodes, props.data.edges, positions.current);
  const pos = positions.current;
  const byId = new Map(props.data.nodes.map((n) => [n.id, n]));
  return h(
    'svg',
    { class: 'graph', viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: 'img', 'aria-label': `Topology: ${props.data.nodes.length} workloads, ${props.data.edges.length} edges (listed in the table below)` },
    h('defs', null, h('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 8, markerHeight: 8, orient: 'auto-start-reverse' }, h('path', { d: 'M 0 0 L 10 5 L 0 10 z', class: 'arrow' }))),
    props.data.edges.map((edge) => {
      const a = pos.get(edge.from);
      const b = pos.get(edge.to);
      if (a === undefined || b === undefined || a === b) return null;
      const dx = (b.x ?? 0) - (a.x ?? 0);
      const dy = (b.y ?? 0) - (a.y ?? 0);
      const length = Math.hypot(dx, dy) || 1;
      // Stop the arrow at the node's edge (radius 28) so its head stays visible.
      const x1 = (a.x ?? 0) + (dx / length) * 30;
      const y1 = (a.y ?? 0) + (dy / length) * 30;
      const x2 = (b.x ?? 0) - (dx / length) * 32;
      const y2 = (b.y ?? 0) - (dy / length) * 32;
      return h(
        'g',
        { key: `${edge.from}>${edge.to}`, class: `edge sr-${successLevel(edge.success)}` },
        h('line', { x1, y1, x2, y2, 'marker-end': 'url(#arrow)' }),
        h('text', { x: (x1 + x2) / 2, y: (y1 + y2) / 2 - 6, 'text-anchor': 'middle', class: 'edge-label' }, `${formatSuccess(edge.success)} · ${formatRps(edge.rps)} rps`),
      );
    }),
    [...pos.values()].map((p) => {
      const node = byId.get(p.id);
      if (node === undefined) return null;
      const href = workloadHref(node.type, node.namespace, node.name);
      const body = [h('circle', { cx: p.x, cy: p.y, r: 28 }), h('text', { x: p.x, y: (p.y ?? 0) + 46, 'text-anchor': 'middle', class: 'node-label' }, label(node))];
      return h('g', { key: p.id, class: 'node' }, href === undefined ? body : h('a', { href, 'aria-label': `${label(node)} in ${node.namespace}` }, body));
    }),
  );
}

export function TopologyPage(props: { namespace: string; generation: number }): ComponentChild {
  const ns = props.namespace;
  const data = usePolled(() => getJson<TopologyResponse>(`api/topology?window=1m&namespace=${encodeURIComponent(ns)}`), `topology/${ns}`, props.generation);
  const topology = data.data;
  const byId = new Map((topology?.nodes ?? []).map((n) => [n.id, n]));
  const name = (id: string): string => {
    const n = byId.get(id);
    return n === undefined ? id : `${label(n)} (${n.namespace})`;
  };
  return h(
    'section',
    { 'aria-labelledby': 'page-title' },
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: hrefOf({ page: 'namespaces' }) }, 'Namespaces'), ns === '' ? null : [' / ', h('a', { href: hrefOf({ page: 'namespace', namespace: ns }) }, ns)], ' / Topology'),
    h('h1', { id: 'page-title' }, ns === '' ? 'Topology' : `Topology of ${ns}`),
    h(Status, { error: data.error, at: data.at }),
    topology === undefined ? null : h(Graph, { data: topology }),
    topology !== undefined && topology.truncated > 0 ? h('p', { class: 'status' }, `${topology.truncated} more workloads send traffic but were left out of this picture.`) : null,
    h(
      'table',
      { class: 'stats', 'data-testid': 'edges' },
      h('caption', null, 'Edges: requests each caller sent, last minute, as its proxies measured them'),
      h('thead', null, h('tr', null, ['From', 'To', 'Success', 'RPS'].map((c) => h('th', { scope: 'col', key: c }, c)))),
      h(
        'tbody',
        null,
        (topology?.edges ?? []).length === 0
          ? h('tr', null, h('td', { colSpan: 4, class: 'empty' }, 'No meshed calls in the last minute.'))
          : (topology?.edges ?? []).map((edge) =>
              h(
                'tr',
                { key: `${edge.from}>${edge.to}` },
                h('th', { scope: 'row' }, name(edge.from)),
                h('td', null, name(edge.to)),
                h('td', { class: 'num' }, successCell(edge.success)),
                h('td', { class: 'num' }, formatRps(edge.rps)),
              ),
            ),
      ),
    ),
  );
}
