// Makes the proxy's key and CSR in a short-lived child process (key-child-main.ts) rather than in the
// proxy: the X.509 library and what it allocates cost the process ~20 MB of resident memory that it
// never gives back, for a job done once at start. In-process generation stays as the fallback when no
// child can be started (a sandbox without fork), at that memory cost, with a warning.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../log/logger.ts';
import { createLocalKey, type LocalKey } from './identity/csr.ts';

// The child's module has this module's extension (.ts in the repository, .js built). Named from the
// parent folder: bundled (scripts/bundle-proxy.ts), this code may sit in chunks/, one level deep too.
const OWN_EXTENSION = import.meta.url.endsWith('.js') ? '.js' : '.ts';
const CHILD_MAIN = new URL(`../acceptor/key-child-main${OWN_EXTENSION}`, import.meta.url);
/** Key generation takes milliseconds; loading the library a few hundred at most on a slow node. */
const CHILD_TIMEOUT_MS = 30_000;

/** The key and CSR from one run of the child; rejects with what the child said when it fails. */
export function localKeyFromChild(identity: string, timeoutMs = CHILD_TIMEOUT_MS, main: URL = CHILD_MAIN): Promise<LocalKey> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fileURLToPath(main), identity], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const said = Buffer.concat(err).toString('utf8').trim();
      if (code !== 0) return reject(new Error(`the key child exited with ${code ?? signal}${said === '' ? '' : `: ${said}`}`));
      try {
        resolve(parseChildOutput(Buffer.concat(out).toString('utf8')));
      } catch (e) {
        reject(e);
      }
    });
  });
}

/** The child's one JSON line, checked. */
export function parseChildOutput(text: string): LocalKey {
  const v: unknown = JSON.parse(text);
  if (typeof v !== 'object' || v === null) throw new Error('the key child wrote no object');
  const { keyPem, csrDer } = v as Record<string, unknown>;
  if (typeof keyPem !== 'string' || !keyPem.includes('PRIVATE KEY') || typeof csrDer !== 'string' || csrDer === '') {
    throw new Error('the key child wrote no key or no CSR');
  }
  return { keyPem, csrDer: new Uint8Array(Buffer.from(csrDer, 'base64')) };
}

/** The key and CSR: from the child, or made here when the child cannot run. */
export async function makeLocalKey(identity: string, log: Logger): Promise<LocalKey> {
  try {
    return await localKeyFromChild(identity);
  } catch (err) {
    log.warn('identity: could not make the key in a child process; making it in the proxy, which keeps ~20 MB more', {
      error: err instanceof Error ? err.message : String(err),
    });
    return createLocalKey(identity);
  }
}
