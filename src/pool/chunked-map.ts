// The engine behind map, imap, imapUnordered and starmap: pulls items from any (async) iterable into
// chunks, keeps at most maxInFlight chunks outstanding (so a lazy source is read only as fast as results
// are taken), and yields each chunk's results in input or completion order.

import { abortErrorFrom, InvalidArgumentError } from '../errors.ts';
import { describe } from '../task.ts';
import type { MapOptions } from './executor.ts';
import { checkInteger } from './options.ts';

/** Aim for chunks that take about this long in a worker: long enough to amortize a message. */
const TARGET_CHUNK_MS = 5;
const INITIAL_CHUNK_ITEMS = 8;
const MAX_CHUNK_ITEMS = 16_384;
/** With a known item count, keep at least this many chunks per worker so the tail stays balanced. */
const CHUNKS_PER_WORKER = 4;

/** Measured cost per item, shared by the chunks of one map call. */
export interface ChunkCost {
  perItemMs: number;
}

export type SubmitChunk = (items: unknown[], cost: ChunkCost, signal: AbortSignal) => Promise<unknown[]>;

export interface ChunkedMapOptions {
  readonly ordered: boolean;
  readonly workers: number;
  readonly options: MapOptions;
}

export function validateMapOptions(
  options: MapOptions | undefined,
  workers: number,
): { chunkSize: number | undefined; maxInFlight: number } {
  if (options === undefined) return { chunkSize: undefined, maxInFlight: 4 * workers };
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError(
      'SKEIN_POOL_INVALID_OPTION',
      `map options must be an object (got ${describe(options)}); omit it for defaults`,
    );
  }
  const chunkSize =
    options.chunkSize === undefined
      ? undefined
      : checkInteger('chunkSize', options.chunkSize, 1, 'omit it to size chunks from the measured task time');
  const maxInFlight =
    options.maxInFlight === undefined
      ? 4 * workers
      : checkInteger('maxInFlight', options.maxInFlight, 1, `omit it for ${4 * workers}`);
  if (options.onProgress !== undefined && typeof options.onProgress !== 'function') {
    throw new InvalidArgumentError(
      'SKEIN_POOL_INVALID_OPTION',
      `onProgress must be a function (got ${describe(options.onProgress)})`,
    );
  }
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) {
    throw new InvalidArgumentError(
      'SKEIN_POOL_INVALID_OPTION',
      `signal must be an AbortSignal (got ${describe(options.signal)})`,
    );
  }
  return { chunkSize, maxInFlight };
}

function knownLength(source: unknown): number | undefined {
  if (Array.isArray(source) || ArrayBuffer.isView(source)) return (source as { length: number }).length;
  if (source instanceof Set || source instanceof Map) return source.size;
  return undefined;
}

interface Outstanding {
  readonly index: number;
  readonly promise: Promise<unknown[]>;
  result?: unknown[];
  error?: unknown;
  settled: boolean;
}

/**
 * Yields result arrays, one per chunk, in input order (ordered) or as chunks finish.
 * @throws the first failing item's error; SKEIN_ABORTED when options.signal aborts.
 */
export async function* chunkedMap(
  source: Iterable<unknown> | AsyncIterable<unknown>,
  submit: SubmitChunk,
  { ordered, workers, options }: ChunkedMapOptions,
): AsyncGenerator<unknown[], void, undefined> {
  const { chunkSize, maxInFlight } = validateMapOptions(options, workers);
  const asyncIterable = (source as Partial<AsyncIterable<unknown>>)?.[Symbol.asyncIterator];
  const syncIterable = (source as Partial<Iterable<unknown>>)?.[Symbol.iterator];
  if (typeof asyncIterable !== 'function' && typeof syncIterable !== 'function') {
    throw new InvalidArgumentError(
      'SKEIN_POOL_INVALID_OPTION',
      `map items must be an iterable or async iterable (got ${describe(source)})`,
    );
  }
  const signal = options.signal;
  if (signal?.aborted === true) throw abortErrorFrom(signal);
  const controller = new AbortController();
  const chunkSignal = signal === undefined ? controller.signal : AbortSignal.any([signal, controller.signal]);
  const iterator =
    typeof asyncIterable === 'function'
      ? (asyncIterable.call(source) as AsyncIterator<unknown>)
      : (syncIterable!.call(source) as Iterator<unknown>);
  const isAsync = typeof asyncIterable === 'function';
  const total = knownLength(source);
  const cap =
    total === undefined ? MAX_CHUNK_ITEMS : Math.max(1, Math.ceil(total / (CHUNKS_PER_WORKER * workers)));
  const cost: ChunkCost = { perItemMs: -1 };
  const nextSize = (): number => {
    if (chunkSize !== undefined) return chunkSize;
    const wanted =
      cost.perItemMs < 0 ? INITIAL_CHUNK_ITEMS : Math.round(TARGET_CHUNK_MS / Math.max(cost.perItemMs, 1e-6));
    return Math.max(1, Math.min(wanted, MAX_CHUNK_ITEMS, cap));
  };
  const outstanding: Outstanding[] = [];
  let exhausted = false;
  let sent = 0;
  let done = 0;
  let wake: (() => void) | undefined;

  const pull = async (): Promise<unknown[]> => {
    const size = nextSize();
    const items: unknown[] = [];
    while (items.length < size) {
      const step = isAsync
        ? await (iterator as AsyncIterator<unknown>).next()
        : (iterator as Iterator<unknown>).next();
      if (step.done === true) {
        exhausted = true;
        break;
      }
      items.push(step.value);
    }
    return items;
  };

  try {
    for (;;) {
      while (!exhausted && outstanding.length < maxInFlight) {
        const items = await pull();
        if (items.length === 0) break;
        const entry: Outstanding = {
          index: sent++,
          promise: submit(items, cost, chunkSignal),
          settled: false,
        };
        entry.promise.then(
          (result) => {
            entry.result = result;
            entry.settled = true;
            wake?.();
          },
          (error: unknown) => {
            entry.error = error;
            entry.settled = true;
            wake?.();
          },
        );
        outstanding.push(entry);
      }
      if (outstanding.length === 0) return;
      // Ordered: the oldest chunk; unordered: any finished one.
      let ready = ordered
        ? outstanding[0]!.settled
          ? 0
          : -1
        : outstanding.findIndex((entry) => entry.settled);
      while (ready < 0) {
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        wake = undefined;
        ready = ordered
          ? outstanding[0]!.settled
            ? 0
            : -1
          : outstanding.findIndex((entry) => entry.settled);
      }
      const [entry] = outstanding.splice(ready, 1);
      if (entry!.error !== undefined) throw entry!.error;
      done += entry!.result!.length;
      options.onProgress?.(done);
      yield entry!.result!;
    }
  } finally {
    // Broken out of, failed or aborted: drop outstanding chunks and release the source.
    if (outstanding.length > 0) controller.abort();
    for (const entry of outstanding) entry.promise.catch(() => {});
    if (!exhausted) await iterator.return?.();
  }
}
