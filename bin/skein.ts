#!/usr/bin/env node
// The `skein` executable. All logic lives in src/cli/ so it can be tested and embedded; this file only
// hands over the arguments and sets the exit code (never process.exit(), so output is flushed first).

import { main } from '../src/cli/index.ts';

process.exitCode = await main(process.argv.slice(2));
