#!/usr/bin/env node
import { main } from '../src/init/cli.ts'; process.exitCode = main(process.argv.slice(2));
