#!/usr/bin/env node
// sluice-init: the pod's iptables redirect to the proxy (the init container). `sluice-init --help` for flags.
import './node-version-check.js';
import { entry } from './entry.js';

const { main } = await import(entry('init/cli'));
process.exitCode = main(process.argv.slice(2));
