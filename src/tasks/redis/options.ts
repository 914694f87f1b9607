// Options of the Redis broker: one frozen table of defaults and one resolver that validates each field
// by name. The resolved object is frozen and exposed as `broker.options`.

import type { Redis } from 'ioredis';
import { InvalidArgumentError } from '../../errors.ts';

export interface RedisBrokerOptions {
  /**
   * Where Redis is, as a `redis://` or `rediss://` URL. Ignored when `client` is given.
   * @defaultValue 'redis://127.0.0.1:6379'
   */
  readonly url?: string;
  /**
   * An ioredis client to use instead of one the broker creates from `url`. The broker defines its
   * scripts on it and never closes it; its own offline-queue settings decide what a call made while
   * Redis is down does (see docs/tasks-redis.md).
   */
  readonly client?: Redis;
  /**
   * First part of every key this broker writes, so several Skein stores (or tests) share one Redis.
   * Letters, digits and `_ - . /` only. @defaultValue 'skein'
   */
  readonly prefix?: string;
  /** Approximate length the event stream is trimmed to (`XADD MAXLEN ~`). @defaultValue 10000 */
  readonly eventsMaxLen?: number;
  /**
   * How many queued jobs one claim looks at, at most, to find jobs of the requested tasks that no
   * concurrency cap or rate limit holds back. @defaultValue 1000
   */
  readonly claimScanLimit?: number;
  /** Milliseconds a (schedule, tick) claim is remembered, so a late scheduler cannot fire it again. @defaultValue 86400000 */
  readonly tickRetention?: number;
}

export interface ResolvedRedisBrokerOptions {
  readonly url: string;
  readonly client: Redis | undefined;
  readonly prefix: string;
  readonly eventsMaxLen: number;
  readonly claimScanLimit: number;
  readonly tickRetention: number;
}

/** Defaults of RedisBrokerOptions; plain data, never shared instances. */
export const REDIS_BROKER_DEFAULTS = Object.freeze({
  url: 'redis://127.0.0.1:6379',
  prefix: 'skein',
  /** entries */
  eventsMaxLen: 10_000,
  /** jobs */
  claimScanLimit: 1000,
  /** ms: one day */
  tickRetention: 86_400_000,
});

const PREFIX_PATTERN = /^[A-Za-z0-9_\-./]{1,100}$/;

function invalid(message: string): InvalidArgumentError {
  return new InvalidArgumentError('SKEIN_TASKS_INVALID_OPTION', message);
}

function positiveInteger(path: string, value: unknown, hint: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw invalid(`${path} must be an integer >= 1 (got ${String(value)}); ${hint}`);
  }
  return value;
}

/**
 * Merges options with REDIS_BROKER_DEFAULTS, validates each field and freezes the result.
 * @throws InvalidArgumentError SKEIN_TASKS_INVALID_OPTION naming the option.
 */
export function resolveRedisBrokerOptions(options: RedisBrokerOptions = {}): ResolvedRedisBrokerOptions {
  if (typeof options !== 'object' || options === null) {
    throw invalid(
      `RedisBroker options must be an object (got ${String(options)}); omit them to use the defaults`,
    );
  }
  const url = options.url ?? REDIS_BROKER_DEFAULTS.url;
  if (typeof url !== 'string' || !/^rediss?:\/\//.test(url)) {
    throw invalid(
      `url must be a redis:// or rediss:// URL (got ${JSON.stringify(url)}); omit it to use ${REDIS_BROKER_DEFAULTS.url}`,
    );
  }
  const client = options.client;
  if (
    client !== undefined &&
    (typeof client !== 'object' || client === null || typeof (client as Redis).defineCommand !== 'function')
  ) {
    throw invalid('client must be an ioredis Redis instance; omit it to let the broker connect to url');
  }
  const prefix = options.prefix ?? REDIS_BROKER_DEFAULTS.prefix;
  if (typeof prefix !== 'string' || !PREFIX_PATTERN.test(prefix)) {
    throw invalid(
      `prefix must be 1 to 100 letters, digits or _ - . / (got ${JSON.stringify(prefix)}); omit it to use '${REDIS_BROKER_DEFAULTS.prefix}'`,
    );
  }
  return Object.freeze({
    url,
    client,
    prefix,
    eventsMaxLen: positiveInteger(
      'eventsMaxLen',
      options.eventsMaxLen ?? REDIS_BROKER_DEFAULTS.eventsMaxLen,
      `omit it to keep about ${REDIS_BROKER_DEFAULTS.eventsMaxLen} events`,
    ),
    claimScanLimit: positiveInteger(
      'claimScanLimit',
      options.claimScanLimit ?? REDIS_BROKER_DEFAULTS.claimScanLimit,
      `omit it to scan up to ${REDIS_BROKER_DEFAULTS.claimScanLimit} queued jobs per claim`,
    ),
    tickRetention: positiveInteger(
      'tickRetention',
      options.tickRetention ?? REDIS_BROKER_DEFAULTS.tickRetention,
      'give milliseconds, longer than any scheduler may lag behind a tick',
    ),
  });
}
