// `npm run build`, after tsc: bundles the proxy's two entry points (the acceptor, and the worker
// thread it starts) from dist/ into dist-proxy/, with the code they share and each lazily loaded stack
// (HTTP/2, the Tap server, discovery) in chunks. What the images and the package run (bin/entry.js).
// Why: a proxy that loads ~100 modules resolves ~100 paths and compiles ~100 module records per
// thread; bundled, it starts with less memory, and its first HTTP/2 connection no longer resolves
// ~30 modules at once (enough path work for V8 to page in its optimizing compiler, ~5 MB resident).
// Packages (node_modules) stay external. Files keep the depth of dist/'s (`<dir>/<file>.js`), so the
// relative URLs in the code (the worker's entry, proto/) resolve as they do from dist/.
import { build } from 'esbuild';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
export const BUNDLE_DIR = join(ROOT, 'dist-proxy');
// The key child (acceptor/key-child-main) is started as its own process by a URL relative to key-child.
const ENTRIES = ['acceptor/main', 'workers/main', 'acceptor/key-child-main'];

export async function bundleProxy(): Promise<void> {
  rmSync(BUNDLE_DIR, { recursive: true, force: true });
  await build({
    entryPoints: ENTRIES.map((e) => join(ROOT, 'dist', `${e}.js`)),
    outbase: join(ROOT, 'dist'),
    outdir: BUNDLE_DIR,
    chunkNames: 'chunks/[name]-[hash]',
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node24',
    packages: 'external',
    // Not minified: stack traces stay readable without source maps.
    minify: false,
    logLevel: 'warning',
  });
  // The acceptor starts the worker by a URL relative to its own module: it must name the bundled one.
  const files = ['acceptor', 'chunks'].flatMap((dir) => readdirSync(join(BUNDLE_DIR, dir)).map((f) => join(BUNDLE_DIR, dir, f)));
  const needed: ReadonlyArray<readonly [string, string]> = [
    ['../workers/main', 'the acceptor would not find its worker'],
    ['../acceptor/key-child-main', 'identity would not find its key child'],
  ];
  for (const [url, what] of needed) {
    if (!files.some((f) => readFileSync(f, 'utf8').includes(url))) throw new Error(`bundle-proxy: no bundled module refers to ${url}: ${what}`);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await bundleProxy();
  console.log(`bundled the proxy into ${BUNDLE_DIR}`);
}
