// The deployed bundles a remote agent runs, cached by content hash as <project>/.skein/agent-cache/<sha256>.mjs.
// A bundle is fetched from the server at most once at a time (concurrent needs share one download),
// hashed before it is written (bytes that do not hash to their name are refused and never run), and
// written under a temporary name, renamed, then made read-only. A file found in the cache is hashed
// once per process before its first use, so a restarted agent reuses it and a damaged one is fetched
// again. The directory sits inside the project, so a bundle's `import 'skein'` resolves from the
// project's node_modules, as it does on the server.

import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SkeinError } from '../errors.ts';
import { BUNDLE_HASH } from './api/agent-wire.ts';

export interface BundleCacheOptions {
  /** Where bundles are kept: `<project>/.skein/agent-cache` for `skein worker`. */
  readonly dir: string;
  /** Fetches a bundle's bytes from the server (GET /api/bundles/<hash>). */
  readonly fetch: (hash: string) => Promise<Uint8Array>;
  /** How long a bundle whose fetch failed is not tried again, in ms. @defaultValue 5000 */
  readonly retryInterval?: number;
  /** A cached file that failed its hash check was deleted (it is fetched again). */
  readonly onWarning?: (message: string, error?: unknown) => void;
}

/** The defaults of BundleCacheOptions. Frozen. */
export const BUNDLE_CACHE_DEFAULTS = Object.freeze({
  /** Milliseconds. */
  retryInterval: 5000,
});

/** The cache directory of a project, where `skein worker` keeps the bundles it ran. */
export function agentCacheDir(projectDir: string): string {
  return join(projectDir, '.skein', 'agent-cache');
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function mismatch(hash: string, actual: string, where: string): SkeinError {
  return new SkeinError(
    'SKEIN_CLOUD_BUNDLE_MISMATCH',
    `bundle ${hash} ${where} hashes to ${actual}, not to the SHA-256 that names it; it was not run (check the server's .skein/deployments/${hash}.mjs and the network between agent and server)`,
  );
}

export class BundleCache {
  readonly dir: string;
  readonly #options: BundleCacheOptions;
  /** How long a bundle whose fetch failed is not tried again, in ms. */
  readonly retryInterval: number;
  /** Hashes whose file is in the cache and was checked by this process. */
  readonly #ready = new Set<string>();
  readonly #pending = new Map<string, Promise<void>>();
  /** Hash → epoch ms before which a failed bundle is not fetched again. */
  readonly #failedUntil = new Map<string, number>();
  #fetched = 0;

  constructor(options: BundleCacheOptions) {
    this.dir = options.dir;
    this.#options = options;
    this.retryInterval = options.retryInterval ?? BUNDLE_CACHE_DEFAULTS.retryInterval;
  }

  /** Bundles this process downloaded (a bundle reused from the cache is not counted). */
  get fetched(): number {
    return this.#fetched;
  }

  /** The file URL a bundle has in the cache (whether or not it is there yet). */
  urlOf(hash: string): string {
    return pathToFileURL(join(this.dir, `${hash}.mjs`)).href;
  }

  /** False for retryInterval ms after a failed fetch of this bundle: its jobs are left to other agents. */
  usable(hash: string, now = Date.now()): boolean {
    const until = this.#failedUntil.get(hash);
    if (until === undefined) return true;
    if (now < until) return false;
    this.#failedUntil.delete(hash);
    return true;
  }

  /**
   * Makes sure the bundle is in the cache and matches its hash: at once when this process checked it
   * before, else by hashing the cached file, else by fetching it. Concurrent calls share one fetch.
   * @throws SKEIN_CLOUD_BUNDLE_MISMATCH; the server's error (SKEIN_CLOUD_BUNDLE_NOT_FOUND, SKEIN_CLOUD_UNREACHABLE …)
   */
  ensure(hash: string): Promise<void> {
    if (this.#ready.has(hash)) return Promise.resolve();
    let pending = this.#pending.get(hash);
    if (pending === undefined) {
      pending = this.#load(hash).then(
        () => {
          this.#ready.add(hash);
          this.#failedUntil.delete(hash);
        },
        (error: unknown) => {
          this.#failedUntil.set(hash, Date.now() + this.retryInterval);
          throw error;
        },
      );
      const settled = pending.finally(() => this.#pending.delete(hash));
      settled.catch(() => undefined);
      this.#pending.set(hash, pending);
    }
    return pending;
  }

  async #load(hash: string): Promise<void> {
    // Hashes come from the server's answers: the path below is built from 64 hex characters only.
    if (!BUNDLE_HASH.test(hash)) {
      throw new SkeinError('SKEIN_CLOUD_BUNDLE_MISMATCH', `${JSON.stringify(hash)} is not a bundle hash`);
    }
    const path = join(this.dir, `${hash}.mjs`);
    let cached: Buffer | undefined;
    try {
      cached = await readFile(path);
    } catch (error) {
      if ((error as { code?: unknown }).code !== 'ENOENT') throw error;
    }
    if (cached !== undefined) {
      const actual = sha256(cached);
      if (actual === hash) return;
      this.#options.onWarning?.(
        `the cached bundle ${path} is damaged; it was deleted and is fetched again`,
        mismatch(hash, actual, 'in the cache'),
      );
      await rm(path, { force: true });
    }
    const bytes = await this.#options.fetch(hash);
    const actual = sha256(bytes);
    if (actual !== hash) throw mismatch(hash, actual, 'as fetched from the server');
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const temporary = `${path}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      await writeFile(temporary, bytes, { mode: 0o600, flag: 'wx' });
      await chmod(temporary, 0o400);
      // Another agent process on the same directory may write the same bundle: rename() keeps one whole file.
      await rename(temporary, path);
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
    this.#fetched += 1;
  }
}
