// skein/cli: the `skein` command line as a function, so bin/skein.ts stays one line and tests or other
// programs can run it in-process. Commands load their modules on use, so `skein --help` starts fast.

export type { DemoOptions } from './demo-options.ts';
export { DEMO_DEFAULTS } from './demo-options.ts';
export type { CliIo } from './main.ts';
export { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, main } from './main.ts';
