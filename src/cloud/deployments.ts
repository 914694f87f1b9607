// Deployed bundles on the server: each is stored once under .skein/deployments/<sha256>.mjs (content
// addressed, written to a temporary name and renamed, then read-only), checked by loading it in a
// short-lived worker thread (never the server's main thread), and recorded with the task exports it
// has and the settings its `config` export chooses. Each export becomes a function name pointing at
// (hash, export) with its settings (the deploy request's override the module's); earlier versions are kept.

import { randomBytes } from 'node:crypto';
import { chmod, mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { SkeinError } from '../errors.ts';
import { bundleHash } from './bundle.ts';
import type { CloudStore, FunctionRecord, FunctionSettings } from './cloud-store.ts';
import { DEFAULT_TENANT, tenantKey } from './tenants.ts';

/** How long loading a new bundle to find its tasks may take, in ms. */
const SCAN_TIMEOUT_MS = 10_000;
/** Heap of the worker thread that loads a new bundle, in MiB. */
const SCAN_HEAP_MB = 256;

/** The bounds of each function setting (inclusive); memory in MiB, timeout in ms. */
export const FUNCTION_SETTING_BOUNDS = Object.freeze({
  memoryMb: [32, 65_536],
  timeout: [1, 2 ** 31 - 1],
  concurrency: [1, 10_000],
  queue: [0, 100_000],
} as const);
const SETTING_KEYS = ['isolation', 'memoryMb', 'timeout', 'concurrency', 'queue'] as const;

function settingsInvalid(message: string): SkeinError {
  return new SkeinError('SKEIN_CLOUD_FUNCTION_SETTINGS_INVALID', message);
}

function shown(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/**
 * Checks function settings given as data (a module's `config` export, a deploy request) and returns
 * them as a fresh object holding only what was set. `path` names the value in messages.
 * @throws SKEIN_CLOUD_FUNCTION_SETTINGS_INVALID
 */
export function checkFunctionSettings(
  value: unknown,
  path: string,
  extra: readonly string[] = [],
): FunctionSettings {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw settingsInvalid(`${path} must be an object of function settings (got ${shown(value)})`);
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (!(SETTING_KEYS as readonly string[]).includes(key) && !extra.includes(key))
      throw settingsInvalid(
        `${path}.${key} is not a function setting; use ${[...SETTING_KEYS, ...extra].join(', ')}`,
      );
  }
  const settings: { -readonly [K in keyof FunctionSettings]: FunctionSettings[K] } = {};
  if (record.isolation !== undefined) {
    if (record.isolation !== 'thread' && record.isolation !== 'process')
      throw settingsInvalid(
        `${path}.isolation must be 'thread' or 'process' (got ${shown(record.isolation)})`,
      );
    settings.isolation = record.isolation;
  }
  for (const key of ['memoryMb', 'timeout', 'concurrency', 'queue'] as const) {
    const given = record[key];
    if (given === undefined) continue;
    const [min, max] = FUNCTION_SETTING_BOUNDS[key];
    if (typeof given !== 'number' || !Number.isSafeInteger(given) || given < min || given > max)
      throw settingsInvalid(
        `${path}.${key} must be an integer from ${min} to ${max}${key === 'memoryMb' ? ' (MiB)' : key === 'timeout' ? ' (ms)' : ''} (got ${shown(given)}); omit it to use the server's default`,
      );
    settings[key] = given;
  }
  return settings;
}

/**
 * Each export's settings from a module's `config` export: its top-level settings apply to every
 * function of the module, `config.functions[export]` to one (and wins).
 * @throws SKEIN_CLOUD_FUNCTION_SETTINGS_INVALID
 */
export function moduleSettings(
  config: unknown,
  exports: readonly string[],
): Record<string, FunctionSettings> {
  if (config === undefined) return {};
  const common = checkFunctionSettings(config, 'config', ['functions']);
  const perExport = (config as { functions?: unknown }).functions;
  if (
    perExport !== undefined &&
    (typeof perExport !== 'object' || perExport === null || Array.isArray(perExport))
  )
    throw settingsInvalid(
      `config.functions must be an object keyed by export name (got ${shown(perExport)})`,
    );
  const named = (perExport ?? {}) as Record<string, unknown>;
  for (const key of Object.keys(named)) {
    if (!exports.includes(key))
      throw settingsInvalid(
        `config.functions.${key} names no exported task of the module (its tasks: ${exports.join(', ')})`,
      );
  }
  const settings: Record<string, FunctionSettings> = {};
  for (const name of exports) {
    const own =
      named[name] === undefined ? {} : checkFunctionSettings(named[name], `config.functions.${name}`);
    settings[name] = { ...common, ...own };
  }
  return settings;
}

export interface DeployRequest {
  readonly hash: string;
  readonly bundle: string;
  /** Function names are `<prefix>.<export>` with a prefix, else the export name. */
  readonly prefix?: string;
  /** Settings for every function of the bundle; each field set here wins over the module's `config`. */
  readonly settings?: unknown;
  /** The tenant whose functions the bundle's exports become (names are per tenant). @defaultValue 'default' */
  readonly tenant?: string;
}

export interface DeployResult {
  readonly hash: string;
  readonly size: number;
  /** False when a bundle with this hash was stored before (nothing was written). */
  readonly stored: boolean;
  readonly functions: readonly {
    readonly name: string;
    readonly export: string;
    readonly settings: FunctionSettings;
  }[];
}

function invalid(message: string): SkeinError {
  return new SkeinError('SKEIN_CLOUD_BUNDLE_INVALID', message);
}

export class Deployments {
  readonly dir: string;
  readonly #store: CloudStore;
  readonly #urls = new Map<string, string>();

  constructor(dataDir: string, store: CloudStore) {
    this.dir = join(dataDir, 'deployments');
    this.#store = store;
  }

  /** The file URL of a stored bundle. */
  urlOf(hash: string): string {
    // Asked on every call of a function: path and URL building cost more than the map lookup.
    let url = this.#urls.get(hash);
    if (url === undefined) {
      url = pathToFileURL(join(this.dir, `${hash}.mjs`)).href;
      this.#urls.set(hash, url);
    }
    return url;
  }

  /**
   * Stores and records a bundle and points its functions at it.
   * @throws SKEIN_CLOUD_BUNDLE_INVALID, SKEIN_CLOUD_FUNCTION_SETTINGS_INVALID
   */
  async deploy(request: DeployRequest, now = Date.now()): Promise<DeployResult> {
    const actual = bundleHash(request.bundle);
    if (actual !== request.hash) {
      throw invalid(
        `the bundle's SHA-256 is ${actual}, not the hash ${request.hash} sent with it; it was changed on the way — deploy again with skein deploy`,
      );
    }
    const overrides =
      request.settings === undefined ? {} : checkFunctionSettings(request.settings, 'settings');
    const size = Buffer.byteLength(request.bundle, 'utf8');
    const stored = await this.#write(request.hash, request.bundle);
    let deployment = this.#store.deployment(request.hash);
    if (deployment === undefined) {
      const scanned = await this.#scan(request.hash)
        .then((found) => ({ exports: found.tasks, settings: moduleSettings(found.config, found.tasks) }))
        .catch(async (error: unknown) => {
          // A bundle that cannot run is not kept: a later deploy of a fixed module has another hash anyway.
          if (stored) await rm(join(this.dir, `${request.hash}.mjs`), { force: true });
          throw error;
        });
      deployment = { hash: request.hash, ...scanned, size, createdAt: now };
    }
    const tenant = request.tenant ?? DEFAULT_TENANT;
    const functions = deployment.exports.map((exportName) => ({
      name: request.prefix === undefined ? exportName : `${request.prefix}.${exportName}`,
      exportName,
      settings: { ...deployment.settings?.[exportName], ...overrides },
    }));
    // Bundles are shared by hash across tenants; the names pointing into them are the tenant's own.
    this.#store.deploy(
      deployment,
      functions.map((fn) => ({ ...fn, name: tenantKey(tenant, fn.name) })),
    );
    return {
      hash: request.hash,
      size,
      stored,
      functions: functions.map((fn) => ({ name: fn.name, export: fn.exportName, settings: fn.settings })),
    };
  }

  /**
   * Points the tenant's function `name` at the version whose hash is `hash` (or starts with it, when
   * only one does). @throws SKEIN_CLOUD_FUNCTION_NOT_FOUND
   */
  rollback(tenant: string, name: string, hash: string, now = Date.now()): FunctionRecord {
    const key = tenantKey(tenant, name);
    const fn = this.#store.fn(key);
    if (fn === undefined) throw functionNotFound(name);
    const matches = fn.versions.filter((version) => version.hash.startsWith(hash));
    const target = matches.at(-1);
    if (target === undefined || new Set(matches.map((m) => m.hash)).size > 1) {
      throw new SkeinError(
        'SKEIN_CLOUD_FUNCTION_NOT_FOUND',
        `function ${name} ${target === undefined ? 'never had' : 'had more than one'} bundle hash ${target === undefined ? '' : 'starting with '}${hash}; skein fn list --json shows its versions (${fn.versions.map((v) => v.hash.slice(0, 12)).join(', ')})`,
      );
    }
    this.#store.setFunctionVersion(key, target.version, now);
    return this.#store.fn(key)!;
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

  /** The task exports of a stored bundle and its `config` export, found by importing it in a worker thread. */
  #scan(hash: string): Promise<{ tasks: string[]; config: unknown }> {
    const url = this.urlOf(hash);
    return new Promise((resolve, reject) => {
      const worker = new Worker(new URL('./entry/scan-bundle.ts', import.meta.url), {
        workerData: { url },
        resourceLimits: { maxOldGenerationSizeMb: SCAN_HEAP_MB },
        stdout: false,
        stderr: false,
      });
      let settled = false;
      const settle = (error: SkeinError | undefined, found?: { tasks: string[]; config: unknown }): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        void worker.terminate();
        if (error !== undefined) reject(error);
        else resolve(found!);
      };
      const timer = setTimeout(
        () => settle(invalid(`the bundle ${hash} did not finish loading within ${SCAN_TIMEOUT_MS} ms`)),
        SCAN_TIMEOUT_MS,
      );
      worker.once(
        'message',
        (message: { tasks?: string[]; config?: unknown; configError?: string; error?: string }) => {
          if (message.configError !== undefined) {
            settle(settingsInvalid(`the bundle's ${message.configError}; export config as plain data`));
          } else if (message.error !== undefined) {
            settle(invalid(`the bundle failed to load: ${message.error}; fix the module and deploy again`));
          } else if (message.tasks === undefined || message.tasks.length === 0) {
            settle(
              invalid(
                'the bundle exports no task(); export each function as export const name = task(import.meta, fn)',
              ),
            );
          } else settle(undefined, { tasks: message.tasks, config: message.config });
        },
      );
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
