#!/usr/bin/env -S node --max-semi-space-size=2 --heap-growing-percent=50 --no-short-builtin-calls --no-flush-bytecode
// The sidecar proxy. Configuration: SLUICE_PROXY_* environment variables (docs/configuration.md).
// The compile cache keeps the TypeScript-stripped, compiled modules on disk: a restarted proxy (and each
// worker thread) then skips the TypeScript transform, which alone costs ~20-35 MB of memory per thread.
import './node-version-check.js';
import module from 'node:module';
import v8 from 'node:v8';
import { entry } from './entry.js';

// A proxy's garbage is short-lived and small: a 2 MB young generation (V8 grows it to 16 MB by
// default) keeps resident memory under load about 100 MB lower at the same throughput
// (docs/performance.md). What survives it is mostly in-flight requests of a burst, garbage soon after:
// V8 would let the old generation grow to 4× what is live before collecting it (36 MB for 9 MB live
// under h2c saturation, +20 MB resident); growing by half keeps it near what is live.
// Set here they reach the worker threads; the shebang sets them for the main thread too when the proxy
// is started as `sluice-proxy` (its heap is sized before any code runs).
v8.setFlagsFromString('--max-semi-space-size=2');
v8.setFlagsFromString('--heap-growing-percent=50');
// Each isolate (main thread, every worker) would otherwise map its own 2 MB copy of V8's builtins near
// its code; calling them from the binary's shared pages instead saves ~2 MB per thread, idle and under
// load, with no CPU cost we could measure (h2c, 3 × 300,000 requests each way).
v8.setFlagsFromString('--no-short-builtin-calls');
// V8 drops the bytecode of functions not run for a while at major GCs, and an idle proxy's memory
// reducer runs several: the hot path came back from idle recompiled and, in some processes, stayed
// on slower code — HTTP/1.1 at 63-70 µs per request instead of 37 for the rest of the process's life
// (docs/performance.md, session 4). Keeping bytecode costs no idle memory we could measure.
v8.setFlagsFromString('--no-flush-bytecode');
module.enableCompileCache?.();
await import(entry('acceptor/main'));
