// Imported first by every bin/ entry point: Sluice runs TypeScript directly, which needs Node.js 24.
// On an older Node the imports that follow would fail with an error about `.ts` files that says
// nothing about the cause, so stop here with one line naming the version needed. (package.json has
// no `engines` field on purpose: npm itself may run on an older system Node, and npm would then warn
// on every `npm ci` and `npx sluice`, although the project's scripts run on the Node 24 it installs.)
import { basename } from 'node:path';

export const NODE_MAJOR_NEEDED = 24;

/** The message for a Node too old to run `program`, or undefined when `version` ("20.1.0") is recent enough. */
export function nodeTooOld(program, version) {
  const major = Number.parseInt(String(version).split('.')[0] ?? '', 10);
  if (Number.isInteger(major) && major >= NODE_MAJOR_NEEDED) return undefined;
  return `${program} needs Node.js ${NODE_MAJOR_NEEDED} or newer (this is ${version})`;
}

const program = basename(process.argv[1] ?? 'sluice').replace(/\.js$/, '');
const problem = nodeTooOld(program, process.versions.node);
if (problem !== undefined) {
  process.stderr.write(`${problem}\n`);
  process.exit(1);
}
