// Keeps the source tree layered as ARCHITECTURE.md draws it: each file imports only from its own layer or
// the layers below, no two files import each other in a circle (type-only imports included: a cycle of
// types is a cycle of understanding — except between files of one folder, which may be one unit split
// over files, as the HTTP/2 engine's connection and its receive/send halves), and the data plane's files
// stay short enough to read in one sitting. Test files are exempt: a test may start the whole proxy.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const SRC = dirname(fileURLToPath(import.meta.url));

/** Lowest first. A folder not listed takes its parent's layer; the longest matching prefix wins. */
const LAYERS: ReadonlyArray<readonly [layer: string, folders: readonly string[]]> = [
  ['base', ['core', 'config', 'log', 'api', 'telemetry', 'protocol-detect']],
  ['bytes', ['workers/transport', 'workers/tls']],
  ['protocols', ['workers/http1', 'workers/http2', 'workers/tcp']],
  ['policy', ['workers/balance', 'workers/retry', 'workers/profiles', 'workers/discovery', 'workers/tap']],
  ['stacks', ['workers/proxy']],
  ['worker', ['workers']],
  ['process', ['acceptor']],
  // Other processes: they share only the base with the proxy.
  // The dashboard's page runs in a browser: it shares only the base's message types with the controller.
  ['other processes', ['control', 'cli', 'init', 'inject', 'install', 'dashboard']],
];

/** Other processes must not reach into the proxy: these layers are off limits to them. */
const PROXY_INTERNALS = new Set(['bytes', 'protocols', 'policy', 'stacks', 'worker', 'process']);

/** The data plane's source files; each stays under this many lines. */
const DATA_PLANE = ['core', 'workers', 'acceptor', 'protocol-detect'];
const MAX_LINES = 420;
/** Files being split up; each entry is a debt, removed when its file is done. */
const KNOWN_LONG = new Set<string>([]);

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(path));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') && !entry.name.includes('testkit')) out.push(path);
  }
  return out;
}

export function layerOf(file: string): number {
  const rel = relative(SRC, file).split('\\').join('/');
  let best = -1;
  let bestLength = -1;
  LAYERS.forEach(([, folders], index) => {
    for (const folder of folders) {
      if ((rel.startsWith(`${folder}/`) || rel === folder) && folder.length > bestLength) {
        best = index;
        bestLength = folder.length;
      }
    }
  });
  return best;
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^'";]*?from\s+['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)|new URL\(\s*['"](\.{1,2}\/[^'"]+\.ts)['"]/g;

interface Edge {
  readonly target: string;
  readonly typeOnly: boolean;
}

function importsOf(file: string): Edge[] {
  const text = readFileSync(file, 'utf8');
  const out: Edge[] = [];
  for (const m of text.matchAll(IMPORT)) {
    const spec = m[1] ?? m[2] ?? m[3];
    if (spec !== undefined) out.push({ target: resolve(dirname(file), spec), typeOnly: /^\s*(?:import|export)\s+type\s/.test(m[0]) });
  }
  return out;
}

const files = sourceFiles(SRC);
const edges = new Map(files.map((f) => [f, importsOf(f).filter((e) => e.target.startsWith(SRC))]));
const graph = new Map([...edges].map(([f, list]) => [f, list.map((e) => e.target)]));
/** For cycles: type-only imports between files of one folder do not count. */
const cycleGraph = new Map([...edges].map(([f, list]) => [f, list.filter((e) => !(e.typeOnly && dirname(e.target) === dirname(f))).map((e) => e.target)]));
const name = (f: string): string => relative(SRC, f);

test('every source file belongs to a layer', () => {
  const orphans = files.filter((f) => layerOf(f) < 0 && dirname(f) !== SRC).map(name);
  assert.deepEqual(orphans, [], 'add their folders to LAYERS');
});

test('imports go only to the same layer or below', () => {
  const violations: string[] = [];
  for (const [file, targets] of graph) {
    const from = layerOf(file);
    for (const target of targets) {
      const to = layerOf(target);
      const upward = to > from;
      const intoProxy = LAYERS[from]?.[0] === 'other processes' && PROXY_INTERNALS.has(LAYERS[to]?.[0] ?? '');
      if (upward || intoProxy) {
        violations.push(`${name(file)} (${LAYERS[from]?.[0]}) imports ${name(target)} (${LAYERS[to]?.[0]})`);
      }
    }
  }
  assert.deepEqual(violations, []);
});

test('no import cycles', () => {
  // Tarjan's strongly connected components; any component with more than one file is a cycle.
  let index = 0;
  const indexes = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (v: string): void => {
    indexes.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const w of cycleGraph.get(v) ?? []) {
      if (!cycleGraph.has(w)) continue;
      if (!indexes.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v) as number, indexes.get(w) as number));
      }
    }
    if (low.get(v) === indexes.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop() as string;
        onStack.delete(w);
        component.push(name(w));
      } while (w !== v);
      if (component.length > 1) cycles.push(component.sort());
    }
  };
  for (const file of cycleGraph.keys()) if (!indexes.has(file)) visit(file);
  assert.deepEqual(cycles, []);
});

test(`data-plane files stay under ${MAX_LINES} lines`, () => {
  const long = files
    .filter((f) => DATA_PLANE.some((folder) => name(f).startsWith(`${folder}/`)))
    .map((f) => [name(f), readFileSync(f, 'utf8').split('\n').length] as const)
    .filter(([file, lines]) => lines > MAX_LINES && !KNOWN_LONG.has(file))
    .map(([file, lines]) => `${file}: ${lines}`);
  assert.deepEqual(long, []);
});
