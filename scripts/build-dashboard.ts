// Builds the dashboard's page (src/dashboard, TypeScript + CSS) into dist/dashboard/ with esbuild:
// app.js (preact, uPlot and d3-force bundled in), app.css, index.html, and build-info.json holding a
// hash of the inputs. Run by `npm run build` (so `npm pack` ships the bundle), and by `npm start` and
// `npm test` when the bundle is missing or stale; users of the package never build anything.
//
//   node scripts/build-dashboard.ts            build
//   node scripts/build-dashboard.ts --if-stale build only when the sources changed since the last build
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const SOURCE_DIR = join(ROOT, 'src', 'dashboard');
export const OUT_DIR = join(ROOT, 'dist', 'dashboard');
const INFO_FILE = join(OUT_DIR, 'build-info.json');
/** Files outside src/dashboard the page is built from. */
const SHARED_INPUTS = ['src/api/dashboard-messages.ts', 'src/api/public-messages.ts'];
/** Bundled libraries: a new version means a new bundle. */
const LIBRARIES = ['esbuild', 'preact', 'uplot', 'd3-force'];

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? filesUnder(path) : entry.name.endsWith('.test.ts') ? [] : [path];
  });
}

/** A hash of everything the bundle is made from. */
export function inputsHash(): string {
  const hash = createHash('sha256');
  for (const file of [...filesUnder(SOURCE_DIR), ...SHARED_INPUTS.map((f) => join(ROOT, f))].sort()) {
    hash.update(relative(ROOT, file)).update('\0').update(readFileSync(file)).update('\0');
  }
  for (const lib of LIBRARIES) {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'node_modules', lib, 'package.json'), 'utf8')) as { version: string };
    hash.update(`${lib}@${pkg.version}\0`);
  }
  return hash.digest('hex');
}

export function bundleIsFresh(hash = inputsHash()): boolean {
  try {
    return (JSON.parse(readFileSync(INFO_FILE, 'utf8')) as { inputs?: string }).inputs === hash;
  } catch {
    return false;
  }
}

export interface BuildResult {
  readonly built: boolean;
  readonly bytes: Record<string, number>;
}

export async function buildDashboard(options: { ifStale?: boolean } = {}): Promise<BuildResult> {
  const hash = inputsHash();
  if (options.ifStale === true && bundleIsFresh(hash)) return { built: false, bytes: {} };
  const esbuild = await import('esbuild');
  rmSync(OUT_DIR, { recursive: true, force: true });
  mkdirSync(OUT_DIR, { recursive: true });
  const result = await esbuild.build({
    entryPoints: [join(SOURCE_DIR, 'main.ts')],
    outfile: join(OUT_DIR, 'app.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    // Browsers of the last few years; the page uses nothing newer.
    target: ['chrome100', 'firefox100', 'safari15'],
    minify: true,
    legalComments: 'linked',
    metafile: true,
    logLevel: 'warning',
  });
  copyFileSync(join(SOURCE_DIR, 'index.html'), join(OUT_DIR, 'index.html'));
  writeFileSync(INFO_FILE, `${JSON.stringify({ inputs: hash, builtAt: new Date().toISOString() }, null, 2)}\n`);
  const bytes: Record<string, number> = {};
  for (const [file, output] of Object.entries(result.metafile.outputs)) bytes[relative(OUT_DIR, join(ROOT, file))] = output.bytes;
  return { built: true, bytes };
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const ifStale = process.argv.includes('--if-stale');
  try {
    const result = await buildDashboard({ ifStale });
    if (result.built) {
      const sizes = Object.entries(result.bytes).map(([f, b]) => `${f} ${(b / 1024).toFixed(1)} KiB`).join(', ');
      process.stdout.write(`dashboard built into ${relative(ROOT, OUT_DIR)}/: ${sizes}\n`);
    }
  } catch (error) {
    process.stderr.write(`build-dashboard: ${(error as Error).message}\n`);
    process.exit(1);
  }
}
