// Deployed bundles on the server: each is stored once under .skein/deployments/<sha256>.mjs (content
// addressed, written to a temporary name and renamed, then read-only), checked by loading it in a
// short-lived worker thread (never the server's main thread), and recorded with the task exports it
// has. Each export becomes a function name pointing at (hash, export); earlier versions are kept.

import { randomBytes } from 'node:crypto';
import { chmod, mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { SkeinError } from '../errors.ts';
import { bundleHash } from './bundle.ts';
import type { CloudStore, FunctionRecord } from './cloud-store.ts';

/** How long loading a new bundle to find its tasks may take, in ms. */
const SCAN_TIMEOUT_MS = 10_000;
/** Heap of the worker thread that loads a new bundle, in MiB. */
const SCAN_HEAP_MB = 256;

export interface DeployRequest {
  readonly hash: string;
  readonly bundle: string;
  /** Function names are `<prefix>.<export>` with a prefix, else the export name. */
  readonly prefix?: string;
}

export interface DeployResult {
  readonly hash: string;
  readonly size: number;
  /** False when a bundle with this hash was stored before (nothing was written). */
  readonly stored: boolean;
  readonly functions: readonly { readonly name: string; readonly export: string }[];
}

function invalid(message: string): SkeinError {
  return new SkeinError('SKEIN_CLOUD_BUNDLE_INVALID', message);
}

export class Deployments {
  readonly dir: string;
  readonly #store: CloudStore;

  constructor(dataDir: string, store: CloudStore) {
    this.dir = join(dataDir, 'deployments');
    this.#store = store;
  }

  /** The file URL of a stored bundle. */
  urlOf(hash: string): string {
    return pathToFileURL(join(this.dir, `${hash}.mjs`)).href;
  }

  /**
   * Stores and records a bundle and points its functions at it.
   * @throws SKEIN_CLOUD_BUNDLE_INVALID
   */
  async deploy(request: DeployRequest, now = Date.now()): Promise<DeployResult> {
    const actual = bundleHash(request.bundle);
    if (actual !== request.hash) {
      throw invalid(
        `the bundle's SHA-256 is ${actual}, not the hash ${request.hash} sent with it; it was changed on the way — deploy again with skein deploy`,
      );
    }
    const size = Buffer.byteLength(request.bundle, 'utf8');
    const stored = await this.#write(request.hash, request.bundle);
    let deployment = this.#store.deployment(request.hash);
    if (deployment === undefined) {
      const exports = await this.#scan(request.hash).catch(async (error: unknown) => {
        // A bundle that cannot run is not kept: a later deploy of a fixed module has another hash anyway.
        if (stored) await rm(join(this.dir, `${request.hash}.mjs`), { force: true });
        throw error;
      });
      deployment = { hash: request.hash, exports, size, createdAt: now };
    }
    const functions = deployment.exports.map((exportName) => ({
      name: request.prefix === undefined ? exportName : `${request.prefix}.${exportName}`,
      exportName,
    }));
    this.#store.deploy(deployment, functions);
    return {
      hash: request.hash,
      size,
      stored,
      functions: functions.map((fn) => ({ name: fn.name, export: fn.exportName })),
    };
  }

  /**
   * Points `name` at the version whose hash is `hash` (or starts with it, when only one does).
   * @throws SKEIN_CLOUD_FUNCTION_NOT_FOUND
   */
  rollback(name: string, hash: string, now = Date.now()): FunctionRecord {
    const fn = this.#store.fn(name);
    if (fn === undefined) throw functionNotFound(name);
    const matches = fn.versions.filter((version) => version.hash.startsWith(hash));
    const target = matches.at(-1);
    if (target === undefined || new Set(matches.map((m) => m.hash)).size > 1) {
      throw new SkeinError(
        'SKEIN_CLOUD_FUNCTION_NOT_FOUND',
        `function ${name} ${target === undefined ? 'never had' : 'had more than one'} bundle hash ${target === undefined ? '' : 'starting with '}${hash}; skein fn list --json shows its versions (${fn.versions.map((v) => v.hash.slice(0, 12)).join(', ')})`,
      );
    }
    this.#store.setFunctionVersion(name, target.version, now);
    return this.#store.fn(name)!;
  }

  /** Writes the bundle unless its file exists; true when it wrote it. */
  async #write(hash: string, bundle: string): Promise<boolean> {
    const path = join(this.dir, `${hash}.mjs`);
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    try {
      await stat(path);
      return false;
    } catch {
      // Not there yet: written below.
    }
    const temporary = `${path}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      await writeFile(temporary, bundle, { mode: 0o600, flag: 'wx' });
      await chmod(temporary, 0o400);
      // rename() replaces atomically: two deploys of the same bundle at once both end with one whole file.
      await rename(temporary, path);
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
    return true;
  }

  /** The task exports of a stored bundle, found by importing it in a worker thread. */
  #scan(hash: string): Promise<string[]> {
    const url = this.urlOf(hash);
    return new Promise((resolve, reject) => {
      const worker = new Worker(new URL('./entry/scan-bundle.ts', import.meta.url), {
        workerData: { url },
        resourceLimits: { maxOldGenerationSizeMb: SCAN_HEAP_MB },
        stdout: false,
        stderr: false,
      });
      let settled = false;
      const settle = (error: SkeinError | undefined, tasks?: string[]): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        void worker.terminate();
        if (error !== undefined) reject(error);
        else resolve(tasks!);
      };
      const timer = setTimeout(
        () => settle(invalid(`the bundle ${hash} did not finish loading within ${SCAN_TIMEOUT_MS} ms`)),
        SCAN_TIMEOUT_MS,
      );
      worker.once('message', (message: { tasks?: string[]; error?: string }) => {
        if (message.error !== undefined) {
          settle(invalid(`the bundle failed to load: ${message.error}; fix the module and deploy again`));
        } else if (message.tasks === undefined || message.tasks.length === 0) {
          settle(
            invalid(
              'the bundle exports no task(); export each function as export const name = task(import.meta, fn)',
            ),
          );
        } else settle(undefined, message.tasks);
      });
      worker.once('error', (error) => settle(invalid(`the bundle failed to load: ${error.message}`)));
      worker.once('exit', (code) =>
        settle(invalid(`the bundle's loading thread exited with code ${code} before it answered`)),
      );
    });
  }
}

export function functionNotFound(name: string): SkeinError {
  return new SkeinError(
    'SKEIN_CLOUD_FUNCTION_NOT_FOUND',
    `no function is named ${JSON.stringify(name)}; skein fn list shows the deployed ones (skein deploy ./fns.ts adds them)`,
  );
}
