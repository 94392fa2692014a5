#!/usr/bin/env node
// Blocks until the proxy is ready (the injected postStart hook); see src/init/await.ts.
import './node-version-check.js';
import { entry } from './entry.js';

const { main } = await import(entry('init/await'));
process.exitCode = await main(process.argv.slice(2));
