// Where a `skein` command writes: stdout for results (what a script captures), stderr for progress and
// messages. Tests pass their own streams.

import type { ProgressStream } from './progress.ts';

/** Where the CLI writes. */
export interface CliIo {
  readonly stdout: ProgressStream;
  readonly stderr: ProgressStream;
}
