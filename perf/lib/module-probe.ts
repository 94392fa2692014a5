// Preloaded with `--import` into a process under test (every thread: workers inherit execArgv): appends
// the URL of every module resolved whose path matches SLUICE_MODULE_PROBE_MATCH (a regular expression)
// to the file SLUICE_MODULE_PROBE_FILE, through Node's synchronous module hooks, which see `require`
// as well as `import`. Used by perf/control-plane-memory.ts to show what a proxy loads and when.
import { appendFileSync } from 'node:fs';
import { registerHooks } from 'node:module';

const file = process.env['SLUICE_MODULE_PROBE_FILE'];
const match = new RegExp(process.env['SLUICE_MODULE_PROBE_MATCH'] ?? '@grpc/|protobufjs');
if (file !== undefined) {
  const seen = new Set<string>();
  registerHooks({
    resolve(specifier, context, next) {
      const resolved = next(specifier, context);
      if (match.test(resolved.url) && !seen.has(resolved.url)) {
        seen.add(resolved.url);
        appendFileSync(file, `${resolved.url}\n`);
      }
      return resolved;
    },
  });
}
