#!/usr/bin/env -S node --max-semi-space-size=2
// The sidecar proxy. Configuration: SLUICE_PROXY_* environment variables (docs/configuration.md).
// The compile cache keeps the TypeScript-stripped, compiled modules on disk: a restarted proxy (and each
// worker thread) then skips the TypeScript transform, which alone costs ~20-35 MB of memory per thread.
import './node-version-check.js';
import module from 'node:module';
import v8 from 'node:v8';
import { entry } from './entry.js';

// A proxy's garbage is short-lived and small: a 2 MB young generation (V8 grows it to 16 MB by
// default) keeps resident memory under load about 100 MB lower at the same throughput
// (docs/performance.md). Set here it reaches the worker threads; the shebang sets it for the main
// thread too when the proxy is started as `sluice-proxy` (its heap is sized before any code runs).
v8.setFlagsFromString('--max-semi-space-size=2');
module.enableCompileCache?.();
await import(entry('acceptor/main'));
