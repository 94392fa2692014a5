#!/usr/bin/env node
// Blocks until the proxy is ready (the injected postStart hook); see src/init/await.ts.
import { main } from '../src/init/await.ts'; process.exitCode = await main(process.argv.slice(2));
