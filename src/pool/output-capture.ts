// What a task writes to process.stdout and process.stderr, handed to the caller that asked for it
// (RunOptions.onOutput). The streams' `write` is wrapped once per thread, when the first capturing call
// arrives, and each write is attributed through the task context's AsyncLocalStorage: async
// continuations of the call count, other code's output does not. Every write still reaches its stream.
// Output is coalesced and capped per call, so a call printing megabytes sends a bounded number of messages.

import { performance } from 'node:perf_hooks';
import { taskContextStorage } from '../task.ts';

export type OutputStream = 'stdout' | 'stderr';

/** Text of one call kept at most, in UTF-16 code units (characters); the rest is dropped, with a marker. */
export const OUTPUT_LIMIT_CHARS = 1024 * 1024;
/** Buffered text is sent once it reaches this many characters. */
export const OUTPUT_FLUSH_CHARS = 16 * 1024;
/** Buffered text is sent at most this long after its first write, in ms (and always before the result). */
export const OUTPUT_FLUSH_INTERVAL_MS = 50;
/** Appended, on the stream being written, to the text of a call that reached OUTPUT_LIMIT_CHARS. */
export const OUTPUT_CUT_MARKER = `\n[skein: output cut: this call printed more than ${OUTPUT_LIMIT_CHARS} characters]\n`;

/** The key under which a task context carries the capture of its call (absent: not captured). */
export const OUTPUT_SINK: unique symbol = Symbol('skein.outputSink');

export interface OutputSinkHolder {
  [OUTPUT_SINK]?: OutputCapture | undefined;
}

/** One call's output: coalesces consecutive writes to one stream, caps the total, and emits in order. */
export class OutputCapture {
  readonly #emit: (stream: OutputStream, text: string) => void;
  #stream: OutputStream = 'stdout';
  #pending = '';
  #firstAt = 0;
  #total = 0;
  #cut = false;
  #closed = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(emit: (stream: OutputStream, text: string) => void) {
    this.#emit = emit;
  }

  write(stream: OutputStream, text: string): void {
    if (this.#closed || this.#cut || text.length === 0) return;
    if (this.#pending.length > 0 && stream !== this.#stream) this.flush();
    const room = OUTPUT_LIMIT_CHARS - this.#total;
    if (text.length > room) {
      text = text.slice(0, room) + OUTPUT_CUT_MARKER;
      this.#cut = true;
    }
    this.#total += text.length;
    const now = performance.now();
    if (this.#pending.length === 0) {
      this.#stream = stream;
      this.#firstAt = now;
      // A task that prints and then awaits gets its text sent without waiting for its end.
      this.#timer ??= setTimeout(() => {
        this.#timer = undefined;
        this.flush();
      }, OUTPUT_FLUSH_INTERVAL_MS).unref();
    }
    this.#pending += text;
    // Checked on each write too: a synchronous task keeps the timer from firing until it ends.
    if (
      this.#cut ||
      this.#pending.length >= OUTPUT_FLUSH_CHARS ||
      now - this.#firstAt >= OUTPUT_FLUSH_INTERVAL_MS
    ) {
      this.flush();
    }
  }

  /** Sends what is buffered. */
  flush(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#pending.length === 0) return;
    const text = this.#pending;
    this.#pending = '';
    this.#emit(this.#stream, text);
  }

  /** The call settled: sends what is buffered; later writes (a leftover timer of the task) are not captured. */
  close(): void {
    this.flush();
    this.#closed = true;
  }
}

let installed = false;

/** Wraps process.stdout.write and process.stderr.write of this thread, once. */
export function installOutputHook(): void {
  if (installed) return;
  installed = true;
  wrap(process.stdout, 'stdout');
  wrap(process.stderr, 'stderr');
}

function wrap(stream: NodeJS.WriteStream, name: OutputStream): void {
  const original = stream.write;
  const write = function (this: NodeJS.WriteStream, ...args: unknown[]): boolean {
    const sink = (taskContextStorage.getStore() as OutputSinkHolder | undefined)?.[OUTPUT_SINK];
    if (sink !== undefined) sink.write(name, textOf(args[0], args[1]));
    return (original as (...a: unknown[]) => boolean).apply(this, args);
  };
  stream.write = write as typeof stream.write;
}

function textOf(chunk: unknown, encoding: unknown): string {
  if (typeof chunk === 'string') {
    if (
      typeof encoding !== 'string' ||
      encoding === 'utf8' ||
      encoding === 'utf-8' ||
      !Buffer.isEncoding(encoding)
    )
      return chunk;
    return Buffer.from(chunk, encoding).toString('utf8');
  }
  if (chunk instanceof Uint8Array)
    return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString();
  return String(chunk);
}
