// Where the bin scripts find Sluice's modules. A checkout of the repository has src/, and they run the
// TypeScript sources (Node strips the types). The package that `npm pack` makes has no src/ but the
// compiled JavaScript in dist/ (`npm run build`), which they run then: installed under node_modules,
// where Node refuses to strip types, or unpacked elsewhere (/opt/sluice in the images, docs/images.md).
import { existsSync } from 'node:fs';

const fromSources = existsSync(new URL('../src/', import.meta.url));

/** The URL of a module named by its path under src/ without extension, e.g. `acceptor/main`. */
export function entry(module) {
  return new URL(fromSources ? `../src/${module}.ts` : `../dist/${module}.js`, import.meta.url).href;
}
