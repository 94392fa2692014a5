#!/usr/bin/env node
// The Sluice controller. `sluice-controller --help` for flags.
import '../src/control/main.ts';
