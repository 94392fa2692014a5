#!/usr/bin/env node
// The sidecar proxy. Configuration: SLUICE_PROXY_* environment variables (docs/configuration.md).
// The compile cache keeps the TypeScript-stripped, compiled modules on disk: a restarted proxy (and each
// worker thread) then skips the TypeScript transform, which alone costs ~20-35 MB of memory per thread.
import module from 'node:module';

module.enableCompileCache?.();
await import('../src/acceptor/main.ts');
