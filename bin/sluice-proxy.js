#!/usr/bin/env node
// The sidecar proxy. Configuration: SLUICE_PROXY_* environment variables (docs/configuration.md).
import '../src/acceptor/main.ts';
