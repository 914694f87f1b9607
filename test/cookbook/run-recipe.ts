// Runs one cookbook recipe as its own program (`node examples/<chapter>/<recipe>.ts`), the way a
// reader runs it, and gives its exit code and output lines. Bounded: a hung recipe fails its test.

import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const RUN_TIMEOUT_MS = 60_000;

export interface RecipeOutcome {
  readonly code: number | null;
  readonly lines: string[];
  readonly stderr: string;
}

/** Runs examples/<path> with `args`, in `cwd` (the repository root by default), with extra env. */
export function runRecipe(
  path: string,
  args: readonly string[] = [],
  options: { readonly cwd?: string; readonly env?: Record<string, string> } = {},
): Promise<RecipeOutcome> {
  // A recipe runs as a reader runs it: not as a child of this test runner (NODE_TEST_CONTEXT would
  // make node:test in the recipe talk the runner's binary protocol instead of printing its report).
  const env: NodeJS.ProcessEnv = { ...process.env, ...options.env };
  delete env.NODE_TEST_CONTEXT;
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [`${ROOT}examples/${path}`, ...args],
      { cwd: options.cwd ?? ROOT, env, timeout: RUN_TIMEOUT_MS },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
        resolve({ code, lines: stdout.split('\n').filter((line) => line !== ''), stderr });
      },
    );
  });
}
