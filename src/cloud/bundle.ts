// `skein deploy`'s bundler: one module and everything it imports, bundled by esbuild into one ESM file
// whose SHA-256 names it on the server. `skein` itself stays an import (resolved from the project's
// node_modules on the server), so tasks in the bundle share the worker runtime's task context. The
// output depends only on the sources (no absolute paths, no timestamps): the same module gives the
// same hash. esbuild loads only when a module is bundled.

import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { SkeinError } from '../errors.ts';

/** A bundle ready to upload: its source text and the SHA-256 (hex) of its UTF-8 bytes. */
export interface Bundle {
  readonly source: string;
  readonly hash: string;
}

/** The SHA-256 (64 hex characters) that names a bundle. */
export function bundleHash(source: string): string {
  return createHash('sha256').update(source, 'utf8').digest('hex');
}

// Modules bundled from CommonJS call require(); an ESM file has none, so the bundle makes one.
const REQUIRE_BANNER =
  "import { createRequire as __skeinCreateRequire } from 'node:module';\nconst require = __skeinCreateRequire(import.meta.url);";

/**
 * Bundles `path` (a .ts/.mts/.js/.mjs module) into one ESM file.
 * @throws SKEIN_CLOUD_BUNDLE_INVALID when the file is missing or esbuild reports an error.
 */
export async function bundleModule(path: string): Promise<Bundle> {
  const file = resolve(path);
  try {
    if (!(await stat(file)).isFile()) throw new Error('not a file');
  } catch {
    throw new SkeinError(
      'SKEIN_CLOUD_BUNDLE_INVALID',
      `cannot bundle ${JSON.stringify(path)}: no such file; name the module that exports your task() functions`,
    );
  }
  const esbuild = await import('esbuild');
  let text: string;
  try {
    const result = await esbuild.build({
      entryPoints: [basename(file)],
      absWorkingDir: dirname(file),
      bundle: true,
      write: false,
      format: 'esm',
      platform: 'node',
      target: 'node24',
      external: ['skein', 'skein/*'],
      banner: { js: REQUIRE_BANNER },
      logLevel: 'silent',
      sourcemap: false,
    });
    text = result.outputFiles[0]?.text ?? '';
  } catch (error) {
    const first = (error as { errors?: { text?: string; location?: { file?: string; line?: number } }[] })
      .errors?.[0];
    const where = first?.location === undefined ? '' : ` (${first.location.file}:${first.location.line})`;
    throw new SkeinError(
      'SKEIN_CLOUD_BUNDLE_INVALID',
      `cannot bundle ${JSON.stringify(path)}: ${first?.text ?? (error instanceof Error ? error.message : String(error))}${where}; fix the module and deploy again`,
      { cause: error },
    );
  }
  return { source: text, hash: bundleHash(text) };
}
