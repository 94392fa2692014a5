// The issuer from three files (`--identity-issuer-cert`, `--identity-issuer-key`,
// `--identity-trust-anchors`), watched for changes. The directories are watched rather than the
// files: editors and `kubectl`-mounted Secrets replace files by rename (a Secret volume swaps its
// `..data` symlink), which a watch on the old file would never report.
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { IssuerMaterial } from './issuer.ts';
import { IssuerRefusedError } from './issuer.ts';

export interface IssuerFiles {
  readonly certificate: string;
  readonly key: string;
  readonly anchors: string;
}

function origin(files: IssuerFiles): string {
  return `files ${files.certificate}, ${files.key}, ${files.anchors}`;
}

/** Reads the three files; a missing or unreadable one is an IssuerRefusedError naming it. */
export async function readIssuerFiles(files: IssuerFiles): Promise<IssuerMaterial> {
  const read = async (what: string, file: string): Promise<string> => {
    try {
      return await readFile(file, 'utf8');
    } catch (error) {
      throw new IssuerRefusedError(`identity issuer (${origin(files)}) refused: cannot read ${what} ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
  };
  // Settled in order so the error names the first unreadable file in argument order, not whichever
  // read happened to fail first.
  const results = await Promise.allSettled([
    read('issuer certificate', files.certificate),
    read('issuer key', files.key),
    read('trust anchors', files.anchors),
  ]);
  for (const result of results) if (result.status === 'rejected') throw result.reason;
  const [certificatePem, keyPem, anchorsPem] = results.map((result) => (result as PromiseFulfilledResult<string>).value) as [string, string, string];
  return { certificatePem, keyPem, anchorsPem, origin: origin(files) };
}

/** How long a burst of file events settles before the files are read (a rewrite is several events). */
const SETTLE_MS = 100;

/**
 * Calls `onChange` with the files' contents after they change (debounced). Read errors while a file
 * is being replaced go to `onError`; the next event reads again. Returns a function that stops watching.
 */
export function watchIssuerFiles(
  files: IssuerFiles,
  onChange: (material: IssuerMaterial) => void,
  onError: (error: Error) => void,
): () => void {
  const directories = [...new Set([files.certificate, files.key, files.anchors].map((f) => path.dirname(path.resolve(f))))];
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const changed = (): void => {
    if (closed) return;
    clearTimeout(timer);
    timer = setTimeout(() => {
      readIssuerFiles(files).then(
        (material) => closed || onChange(material),
        (error: Error) => closed || onError(error),
      );
    }, SETTLE_MS);
  };
  const watchers: FSWatcher[] = directories.map((directory) => watch(directory, { persistent: false }, changed));
  for (const watcher of watchers) watcher.on('error', (error) => onError(error));
  return () => {
    closed = true;
    clearTimeout(timer);
    for (const watcher of watchers) watcher.close();
  };
}
