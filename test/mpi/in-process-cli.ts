// The `skein` CLI run in this process (src/cli/main.ts) with its output captured, for the mpirun tests:
// ranks run as threads of this process, so their output and exit code come back without a child.

import { main } from '../../src/cli/main.ts';

export async function skein(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io = {
    stdout: {
      write: (chunk: string) => {
        out += chunk;
        return true;
      },
    },
    stderr: {
      write: (chunk: string) => {
        err += chunk;
        return true;
      },
    },
  };
  return { code: await main(argv, io as never), out, err };
}
