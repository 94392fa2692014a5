// The page's files: the bundle scripts/build-dashboard.ts writes to dist/dashboard/ (shipped in the npm
// package; built by `npm start`, `npm test` and `npm run build` in a checkout). Read once at start and
// served from memory: a handful of small files, and a controller upgrade replaces them all at once.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** dist/dashboard/ of the package, from src/control/dashboard/ or dist/control/dashboard/ alike. */
export const BUNDLE_DIR = fileURLToPath(new URL('../../../dist/dashboard/', import.meta.url));

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
  '.map': 'application/json',
};

export interface Asset {
  readonly body: Buffer;
  readonly contentType: string;
}

/** The files of `dir` by URL path (`/index.html`, `/app.js`); empty when the bundle was not built. */
export function loadAssets(dir: string = BUNDLE_DIR): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return assets;
  }
  for (const name of names) {
    const path = join(dir, name);
    if (!statSync(path).isFile()) continue;
    const type = CONTENT_TYPES[extname(name)];
    if (type === undefined) continue;
    assets.set(`/${name}`, { body: readFileSync(path), contentType: type });
  }
  return assets;
}

/** Shown instead of the page when the bundle is missing (a checkout where nothing built it yet). */
export const MISSING_BUNDLE_PAGE = `<!doctype html>
<meta charset="utf-8"><title>Sluice dashboard not built</title>
<h1>The dashboard's page was not built</h1>
<p>This controller runs from a checkout where <code>dist/dashboard/</code> does not exist yet.
<code>npm start</code> and <code>npm test</code> build it; or run <code>npm run build</code> once.
The JSON endpoints under <code>/api/</code> work regardless.</p>
`;
