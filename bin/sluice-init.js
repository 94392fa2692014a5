#!/usr/bin/env node
import './node-version-check.js';

const { main } = await import('../src/init/cli.ts');
process.exitCode = main(process.argv.slice(2));
