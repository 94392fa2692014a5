#!/usr/bin/env node
// The Sluice controller. `sluice-controller --help` for flags. Compile cache: see sluice-proxy.js.
import './node-version-check.js';
import module from 'node:module';
import { entry } from './entry.js';

module.enableCompileCache?.();
await import(entry('control/main'));
