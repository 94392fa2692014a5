// The child process that makes the proxy's key and CSR (key-child.ts starts it): loads the X.509
// library, makes them, writes one JSON line to stdout and exits, so the ~20 MB that library costs a
// process is given back to the system instead of staying in the proxy for its whole life.
//
//   node key-child-main.js <identity>   →   {"keyPem": "...", "csrDer": "<base64>"}
import module from 'node:module';

module.enableCompileCache?.();
const identity = process.argv[2];
if (identity === undefined || identity === '') {
  process.stderr.write('key-child-main: usage: key-child-main <identity>\n');
  process.exit(2);
}
try {
  const { createLocalKey } = await import('./identity/csr.ts');
  const key = await createLocalKey(identity);
  process.stdout.write(`${JSON.stringify({ keyPem: key.keyPem, csrDer: Buffer.from(key.csrDer).toString('base64') })}\n`);
} catch (err) {
  process.stderr.write(`key-child-main: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
