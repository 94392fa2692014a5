#!/usr/bin/env node
// The `sluice` CLI. The compile cache (see sluice-proxy.js) makes every invocation after the first
// skip the TypeScript transform.
import './node-version-check.js';
import module from 'node:module';
import { entry } from './entry.js';

module.enableCompileCache?.();
await import(entry('cli/main'));
