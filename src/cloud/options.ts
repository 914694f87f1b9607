// Options of the cloud server (`skein up`): one frozen table of defaults and a resolver that validates
// every field by name. Invariant: a non-loopback host is accepted only with TLS (a certificate and its
// key) or allowRemote, so a server never speaks plain HTTP beyond this machine by accident.

import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import { createSecureContext } from 'node:tls';
import { InvalidArgumentError, SkeinError } from '../errors.ts';
import { describe } from '../task.ts';

export interface CloudServerOptions {
  /** The project directory: task modules are looked up under it and nowhere else. @defaultValue process.cwd() */
  readonly projectDir?: string;
  /** Where the store, the token database and credentials.json live. @defaultValue `${projectDir}/.skein` */
  readonly dataDir?: string;
  /** The address to listen on; anything but loopback needs TLS or `allowRemote`. @defaultValue '127.0.0.1' */
  readonly host?: string;
  /** The TCP port; 0 picks a free one. @defaultValue 7420 */
  readonly port?: number;
  /** Listen on a non-loopback address over plain HTTP (a network you trust, or TLS in front). @defaultValue false */
  readonly allowRemote?: boolean;
  /** Serve HTTPS with this certificate (PEM file, the chain after it); needs `tlsKey`. */
  readonly tlsCert?: string;
  /** The private key of `tlsCert` (PEM file). */
  readonly tlsKey?: string;
  /** Jobs the local agent runs at once, each on a thread of its pool. @defaultValue os.availableParallelism() */
  readonly concurrency?: number;
  /** Largest request body in bytes. @defaultValue 1048576 */
  readonly bodyLimit?: number;
  /** Failed authentications one client address may make per window before it gets 429. @defaultValue 20 */
  readonly authFailureLimit?: number;
  /** The window of authFailureLimit, in ms. @defaultValue 60000 */
  readonly authFailureWindow?: number;
  /** How long a job's lease lasts before a dead agent's job is run again, in ms. @defaultValue 30000 */
  readonly leaseTimeout?: number;
  /** How long close() lets running jobs finish before it gives them back to the queue, in ms. @defaultValue 10000 */
  readonly closeTimeout?: number;
  /**
   * Keep the queue, leases, events and the agent registry on this Redis (`redis://host:port[/db]`)
   * instead of the SQLite store under dataDir. @defaultValue undefined (embedded SQLite)
   */
  readonly redis?: string;
  /** The first part of every Redis key of this server. @defaultValue 'skein-cloud' */
  readonly redisPrefix?: string;
  /** Run jobs in this process too (a local agent); false leaves them to `skein worker` agents. @defaultValue true */
  readonly localAgent?: boolean;
  /** How long an agent may go without a heartbeat before it is listed as lost, in ms. @defaultValue 30000 */
  readonly agentTimeout?: number;
  /** Wall-clock limit of a function call, in ms: past it the call's worker thread is terminated. @defaultValue 30000 */
  readonly functionTimeout?: number;
  /** Calls one function runs at once, unless it chose its own; more wait in its queue. @defaultValue 8 */
  readonly functionConcurrency?: number;
  /** Calls one function keeps waiting (FIFO) beyond its concurrency, unless it chose its own; more get 429. @defaultValue 0 */
  readonly functionQueue?: number;
  /** How long a bundle's warm pool lives with no call before it is closed, in ms. @defaultValue 60000 */
  readonly functionIdleTimeout?: number;
}

/** The defaults of CloudServerOptions (projectDir, dataDir and concurrency are computed). Plain data, frozen. */
export const CLOUD_DEFAULTS = Object.freeze({
  host: '127.0.0.1',
  port: 7420,
  allowRemote: false,
  /** Bytes: 1 MiB. */
  bodyLimit: 1024 * 1024,
  authFailureLimit: 20,
  /** Milliseconds. */
  authFailureWindow: 60_000,
  /** Milliseconds. */
  leaseTimeout: 30_000,
  /** Milliseconds. */
  closeTimeout: 10_000,
  redisPrefix: 'skein-cloud',
  localAgent: true,
  /** Milliseconds. */
  agentTimeout: 30_000,
  /** Milliseconds. */
  functionTimeout: 30_000,
  functionConcurrency: 8,
  functionQueue: 0,
  /** Milliseconds. */
  functionIdleTimeout: 60_000,
});

export interface ResolvedCloudServerOptions {
  readonly projectDir: string;
  readonly dataDir: string;
  readonly host: string;
  readonly port: number;
  readonly allowRemote: boolean;
  /** The certificate and key read from tlsCert and tlsKey, or undefined for plain HTTP. */
  readonly tls: { readonly cert: Buffer; readonly key: Buffer } | undefined;
  readonly concurrency: number;
  readonly bodyLimit: number;
  readonly authFailureLimit: number;
  readonly authFailureWindow: number;
  readonly leaseTimeout: number;
  readonly closeTimeout: number;
  readonly redis: string | undefined;
  readonly redisPrefix: string;
  readonly localAgent: boolean;
  readonly agentTimeout: number;
  readonly functionTimeout: number;
  readonly functionConcurrency: number;
  readonly functionQueue: number;
  readonly functionIdleTimeout: number;
}

function invalid(path: string, expected: string, value: unknown): InvalidArgumentError {
  return new InvalidArgumentError(
    'SKEIN_CLOUD_INVALID_OPTION',
    `${path} must be ${expected} (got ${describe(value)}); omit it to use the default`,
  );
}

function integer(path: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw invalid(path, `an integer from ${min} to ${max}`, value);
  }
  return value;
}

/** The PEM certificate and key files read, or undefined when neither is given. */
function resolveTls(cert: unknown, key: unknown): ResolvedCloudServerOptions['tls'] {
  if (cert === undefined && key === undefined) return undefined;
  if (cert === undefined || key === undefined) {
    throw invalid(
      cert === undefined ? 'tlsCert' : 'tlsKey',
      'given with the other: HTTPS needs a certificate (--tls-cert) and its private key (--tls-key)',
      undefined,
    );
  }
  const pair = { cert: pemFile('tlsCert', cert, 'CERTIFICATE'), key: pemFile('tlsKey', key, 'PRIVATE KEY') };
  try {
    // Checked now, so a key that does not match its certificate is a clear option error, not a failed listen.
    createSecureContext(pair);
  } catch (error) {
    throw new InvalidArgumentError(
      'SKEIN_CLOUD_INVALID_OPTION',
      `tlsCert and tlsKey: ${JSON.stringify(cert)} and ${JSON.stringify(key)} are not a usable certificate and private key (${(error as Error).message})`,
    );
  }
  return pair;
}

function pemFile(path: string, file: unknown, label: string): Buffer {
  if (typeof file !== 'string' || file === '') throw invalid(path, 'the path of a PEM file', file);
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (error) {
    throw new InvalidArgumentError(
      'SKEIN_CLOUD_INVALID_OPTION',
      `${path}: cannot read ${JSON.stringify(file)} (${(error as Error).message}); give the path of a PEM file`,
    );
  }
  if (!bytes.toString('latin1').includes(label)) {
    throw new InvalidArgumentError(
      'SKEIN_CLOUD_INVALID_OPTION',
      `${path}: ${JSON.stringify(file)} holds no PEM ${label} block ("-----BEGIN … ${label}-----")`,
    );
  }
  return bytes;
}

/** True for 127.0.0.0/8, ::1 and localhost: addresses no other machine can reach. */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost' || host === '::1' || host === '[::1]') return true;
  const parts = host.split('.');
  return (
    parts.length === 4 &&
    parts[0] === '127' &&
    parts.every((part) => /^\d{1,3}$/.test(part) && Number(part) <= 255)
  );
}

/**
 * Merges, validates and freezes server options.
 * @throws SKEIN_CLOUD_INVALID_OPTION naming the option; SKEIN_CLOUD_INSECURE_BIND for a non-loopback host
 * without allowRemote.
 */
export function resolveCloudServerOptions(options: CloudServerOptions = {}): ResolvedCloudServerOptions {
  if (typeof options !== 'object' || options === null) throw invalid('options', 'an object', options);
  const projectDir = resolve(options.projectDir ?? process.cwd());
  if (options.dataDir !== undefined && (typeof options.dataDir !== 'string' || options.dataDir === '')) {
    throw invalid('dataDir', 'a directory path', options.dataDir);
  }
  const dataDir =
    options.dataDir === undefined
      ? resolve(projectDir, '.skein')
      : isAbsolute(options.dataDir)
        ? options.dataDir
        : resolve(projectDir, options.dataDir);
  const host = options.host ?? CLOUD_DEFAULTS.host;
  if (typeof host !== 'string' || host === '') throw invalid('host', 'a host name or IP address', host);
  const allowRemote = options.allowRemote ?? CLOUD_DEFAULTS.allowRemote;
  if (typeof allowRemote !== 'boolean') throw invalid('allowRemote', 'a boolean', allowRemote);
  const tls = resolveTls(options.tlsCert, options.tlsKey);
  if (!isLoopbackHost(host) && !allowRemote && tls === undefined) {
    throw new SkeinError(
      'SKEIN_CLOUD_INSECURE_BIND',
      `refusing to listen on ${JSON.stringify(host)}: it is not a loopback address and the API would speak plain HTTP; give it a certificate (--tls-cert and --tls-key), keep the default 127.0.0.1 behind a TLS proxy, or pass --allow-remote (allowRemote: true) on a network you trust`,
    );
  }
  const redis = options.redis;
  if (redis !== undefined && (typeof redis !== 'string' || !/^rediss?:\/\/[^\s]+$/.test(redis))) {
    throw invalid('redis', 'a redis:// or rediss:// URL such as redis://127.0.0.1:6379/0', redis);
  }
  const redisPrefix = options.redisPrefix ?? CLOUD_DEFAULTS.redisPrefix;
  if (typeof redisPrefix !== 'string' || !/^[A-Za-z0-9_./-]{1,100}$/.test(redisPrefix)) {
    throw invalid('redisPrefix', 'letters, digits and _ - . / (1 to 100)', redisPrefix);
  }
  const localAgent = options.localAgent ?? CLOUD_DEFAULTS.localAgent;
  if (typeof localAgent !== 'boolean') throw invalid('localAgent', 'a boolean', localAgent);
  return Object.freeze({
    projectDir,
    dataDir,
    host,
    port: integer('port', options.port, CLOUD_DEFAULTS.port, 0, 65_535),
    allowRemote,
    tls,
    concurrency: integer('concurrency', options.concurrency, availableParallelism(), 1, 1024),
    bodyLimit: integer('bodyLimit', options.bodyLimit, CLOUD_DEFAULTS.bodyLimit, 1024, 1024 * 1024 * 1024),
    authFailureLimit: integer(
      'authFailureLimit',
      options.authFailureLimit,
      CLOUD_DEFAULTS.authFailureLimit,
      1,
      1_000_000,
    ),
    authFailureWindow: integer(
      'authFailureWindow',
      options.authFailureWindow,
      CLOUD_DEFAULTS.authFailureWindow,
      1,
      86_400_000,
    ),
    leaseTimeout: integer('leaseTimeout', options.leaseTimeout, CLOUD_DEFAULTS.leaseTimeout, 100, 86_400_000),
    closeTimeout: integer('closeTimeout', options.closeTimeout, CLOUD_DEFAULTS.closeTimeout, 0, 86_400_000),
    redis,
    redisPrefix,
    localAgent,
    agentTimeout: integer('agentTimeout', options.agentTimeout, CLOUD_DEFAULTS.agentTimeout, 300, 86_400_000),
    functionTimeout: integer(
      'functionTimeout',
      options.functionTimeout,
      CLOUD_DEFAULTS.functionTimeout,
      1,
      2 ** 31 - 1,
    ),
    functionConcurrency: integer(
      'functionConcurrency',
      options.functionConcurrency,
      CLOUD_DEFAULTS.functionConcurrency,
      1,
      10_000,
    ),
    functionQueue: integer('functionQueue', options.functionQueue, CLOUD_DEFAULTS.functionQueue, 0, 100_000),
    functionIdleTimeout: integer(
      'functionIdleTimeout',
      options.functionIdleTimeout,
      CLOUD_DEFAULTS.functionIdleTimeout,
      0,
      86_400_000,
    ),
  });
}
