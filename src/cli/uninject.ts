// `sluice uninject [files|folders|-]`: removes what `sluice inject` added (the proxy and init
// containers, their volumes, annotations and labels) and prints the manifests otherwise unchanged.
import { parseArgs } from 'node:util';
import { uninject } from '../inject/inject.ts';
import { describeObject } from '../inject/workload.ts';
import { CliError } from './api-client.ts';
import { readProcessStdin, renderAll } from './inject.ts';
import type { CliIo } from './io.ts';
import { parseManifest, readManifests } from './manifests.ts';

export const UNINJECT_USAGE = `Remove the Sluice proxy from Kubernetes workloads.

Reads manifests like sluice inject (files, folders, - for stdin; YAML, JSON, List kinds) and prints
them without what inject added; everything else is kept as it was.

Usage:
  sluice uninject [flags] FILE|FOLDER|- ...

Example:
  kubectl get deploy -n emojivoto -o yaml | sluice uninject - | kubectl apply -f -

Flags:
  -h, --help
`;

export async function run(args: string[], io: CliIo): Promise<number> {
  const { values: flags, positionals } = parseArgs({
    args,
    options: { help: { type: 'boolean', short: 'h' } },
    allowPositionals: true,
    strict: true,
  });
  if (flags.help === true) {
    io.stdout(UNINJECT_USAGE);
    return 0;
  }
  if (positionals.length === 0) throw new CliError('no input: give files, folders or - for stdin (see sluice uninject --help)', 2);
  const manifests = (await readManifests(positionals, io.readStdin ?? readProcessStdin)).map(parseManifest);
  for (const manifest of manifests) {
    for (const object of manifest.objects) {
      const what = describeObject(object.value);
      const result = uninject(object.value);
      if (result.outcome === 'uninjected') {
        object.apply(result.ops);
        io.stderr(`${what} uninjected\n`);
      } else {
        io.stderr(`${what} skipped: ${result.reason}\n`);
      }
    }
  }
  io.stdout(renderAll(manifests));
  return 0;
}
