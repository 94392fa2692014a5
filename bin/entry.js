// Where the bin scripts find Sluice's modules. A checkout of the repository has src/, and they run the
// TypeScript sources (Node strips the types). The package that `npm pack` makes has no src/ but the
// compiled JavaScript in dist/ (`npm run build`), which they run then: installed under node_modules,
// where Node refuses to strip types, or unpacked elsewhere (/opt/sluice in the images, docs/images.md).
// The proxy's two entry points also come bundled (dist-proxy/, scripts/bundle-proxy.ts), and the
// bundle is preferred: it is what the images run. SLUICE_RUN_BUILT=1 runs the built code from a
// checkout too (after `npm run build`), as the benchmark does to measure what is deployed.
import { existsSync } from 'node:fs';

const runBuilt = process.env.SLUICE_RUN_BUILT === '1';
const fromSources = !runBuilt && existsSync(new URL('../src/', import.meta.url));

/** The URL of a module named by its path under src/ without extension, e.g. `acceptor/main`. */
export function entry(module) {
  if (fromSources) return new URL(`../src/${module}.ts`, import.meta.url).href;
  const bundled = new URL(`../dist-proxy/${module}.js`, import.meta.url);
  if (existsSync(bundled)) return bundled.href;
  const built = new URL(`../dist/${module}.js`, import.meta.url);
  if (runBuilt && !existsSync(built)) throw new Error(`SLUICE_RUN_BUILT=1 but ${built.pathname} does not exist: run \`npm run build\` first`);
  return built.href;
}
