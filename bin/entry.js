// Where the bin scripts find Sluice's modules. In a checkout of the repository they run the TypeScript
// sources (Node strips the types); installed from the packed tarball (`npm pack`, docs/images.md) the
// package sits under node_modules, where Node refuses to strip types, so they run the compiled
// JavaScript in dist/ that `npm pack` built (`npm run build`).
import { fileURLToPath } from 'node:url';

const installed = fileURLToPath(import.meta.url).includes('/node_modules/');

/** The URL of a module named by its path under src/ without extension, e.g. `acceptor/main`. */
export function entry(module) {
  return new URL(installed ? `../dist/${module}.js` : `../src/${module}.ts`, import.meta.url).href;
}
