// A thread worker's lone-call slot: one call and its answer written in place in shared memory, for the
// latency-bound case (a caller awaiting each call, the worker holding nothing else). A lane message
// costs, on each side, a message object and its task or result arrays, a frame header, ring positions
// and a view of the ring's bytes (a typed array made per message); the slot holds a task id, a
// function key and the arguments one way, a status, two times and the value the other, at fixed
// places, each published by one Atomics.store of the id. Numbers (up to 8 arguments, or the value)
// are stored as float64s; anything else is encoded as lanes encode it (lane-codec.ts).
//
// Who may use it (pool-base.ts #sendLone, runtime.ts #flush): a call with no options but a signal and a
// progress callback (no timeout, transfer list or captured output; no shared-memory arguments) to a
// worker whose hand is empty, with a function the worker was sent before and arguments that fit a lane
// (lane-fit.ts) and the slot. Its answer takes the slot when the worker's flush holds that one result,
// with a lane-fit value and nothing to transfer, and the worker sent no message while running it;
// otherwise it goes as a results message like any other, which the pool handles the same.
//
// Order: the pool writes a call only when the worker has answered everything it was sent, so the call
// is the worker's oldest message; the worker takes the slot before its lane and port, so it runs the
// call before any message sent after it. The pool takes the answer before the lane's messages, so an
// answer must not overtake a message the worker sent while running the call (its progress): a call
// that sent one is answered by message, behind it. A cancel reaches the call by its id, as any call's.
// Imported by the worker entry too, so it imports nothing heavy.

import { decodeValueAt, encodeValueInto } from './lane-codec.ts';
import { argumentsFitLane } from './lane-fit.ts';
import { RESULT_STRIDE } from './protocol.ts';
import type { WorkerHooks } from './worker-handle.ts';

/** Bytes for the encoded arguments, and for the encoded result: larger ones take the lanes. */
const VALUE_BYTES = 4096;
// The header: the pool's cells in its two cache lines, the worker's in the next. Int32 cells: id + 1
// of the call (0: none), written by the pool and cleared by the worker once taken; its function key;
// how many arguments it has when they are all numbers (stored as float64s: no encoding, which is most
// of a trivial call's slot work), -1 when they are encoded instead. Id + 1 of the answer, written by
// the worker and cleared by the pool; its status; 1 when its value is a number (a float64), 0 when
// encoded.
const CALL_CELL = 0;
const CALL_KEY = 1;
const CALL_NUMBERS = 2;
const ANSWER_CELL = 32;
const ANSWER_STATUS = 33;
const ANSWER_IS_NUMBER = 34;
/** Float64 indexes: the call's numbers; the answer's start (ns after base), run time (ns), base (epoch ms, NaN: none), number. */
const CALL_NUMBER_AT = 2;
const MAX_CALL_NUMBERS = 8;
const ANSWER_START = 18;
const ANSWER_RUN = 19;
const ANSWER_BASE = 20;
const ANSWER_NUMBER = 21;
const HEADER_BYTES = 256;
const CALL_VALUE_AT = HEADER_BYTES;
const ANSWER_VALUE_AT = CALL_VALUE_AT + VALUE_BYTES;
const SLOT_BYTES = ANSWER_VALUE_AT + VALUE_BYTES;

export function createLoneSlot(): SharedArrayBuffer {
  return new SharedArrayBuffer(SLOT_BYTES);
}

class Views {
  readonly cells: Int32Array;
  readonly times: Float64Array;
  readonly bytes: Uint8Array;
  readonly view: DataView<ArrayBufferLike>;
  readonly nodeBuffer: Buffer<ArrayBufferLike>;

  constructor(buffer: SharedArrayBuffer) {
    this.cells = new Int32Array(buffer, 0, HEADER_BYTES / 4);
    this.times = new Float64Array(buffer, 0, HEADER_BYTES / 8);
    this.bytes = new Uint8Array(buffer);
    this.view = new DataView(buffer);
    this.nodeBuffer = Buffer.from(buffer);
  }
}

/** The pool's side: writes calls, takes answers. */
export class LoneSlotCaller {
  readonly #v: Views;

  constructor(buffer: SharedArrayBuffer) {
    this.#v = new Views(buffer);
  }

  /** Writes a call; false, writing nothing, when its arguments do not fit a lane or the slot. */
  write(id: number, key: number, args: unknown): boolean {
    const v = this.#v;
    if (!writeNumbers(v, args)) {
      if (!argumentsFitLane(args)) return false;
      let length: number;
      try {
        length = encodeValueInto(args, v.bytes, CALL_VALUE_AT, VALUE_BYTES);
      } catch {
        // A getter in an argument that throws: postMessage gets its own try.
        return false;
      }
      if (length < 0) return false;
      v.cells[CALL_NUMBERS] = -1;
    }
    v.cells[CALL_KEY] = key;
    // The release point: a worker that loads this id sees the key and the bytes written above.
    Atomics.store(v.cells, CALL_CELL, id + 1);
    return true;
  }

  /** Hands the answer waiting to `hooks.loneAnswer`; false when there is none. */
  take(hooks: WorkerHooks): boolean {
    const v = this.#v;
    const cell = Atomics.load(v.cells, ANSWER_CELL);
    if (cell === 0) return false;
    const times = v.times;
    const base = times[ANSWER_BASE]!;
    const status = v.cells[ANSWER_STATUS]!;
    const value =
      v.cells[ANSWER_IS_NUMBER] === 1
        ? times[ANSWER_NUMBER]
        : decodeValueAt(v.view, v.nodeBuffer, ANSWER_VALUE_AT);
    const startNs = times[ANSWER_START]!;
    const runNs = times[ANSWER_RUN]!;
    // A plain store: the worker writes the next answer only after loading the next call, which the
    // pool stores (atomically) after this. Cleared before the hook, which may send the next call.
    v.cells[ANSWER_CELL] = 0;
    hooks.loneAnswer(cell - 1, status, value, startNs, runNs, Number.isNaN(base) ? undefined : base);
    return true;
  }
}

/** The worker's side: takes calls, writes answers. */
export class LoneSlotServer {
  readonly #v: Views;
  /** Id of the call taken and not yet answered through the slot; -1 when none. */
  #taken = -1;
  /** Whether the worker sent a message while running the call taken (see the header: order). */
  #spoke = false;

  constructor(buffer: SharedArrayBuffer) {
    this.#v = new Views(buffer);
  }

  /** Hands the call waiting to `run` (id, key, arguments); false when there is none. */
  take(run: (id: number, key: number, args: unknown[]) => void): boolean {
    const v = this.#v;
    const cell = Atomics.load(v.cells, CALL_CELL);
    if (cell === 0) return false;
    const key = v.cells[CALL_KEY]!;
    const count = v.cells[CALL_NUMBERS]!;
    const args =
      count >= 0
        ? readNumbers(v.times, count)
        : (decodeValueAt(v.view, v.nodeBuffer, CALL_VALUE_AT) as unknown[]);
    // A plain store: the pool writes the next call only after loading this call's answer, which the
    // worker stores (atomically) after this.
    v.cells[CALL_CELL] = 0;
    this.#taken = cell - 1;
    this.#spoke = false;
    run(cell - 1, key, args);
    return true;
  }

  /** The worker sends a message (progress, output): a call running now is answered behind it. */
  noteMessage(): void {
    if (this.#taken >= 0) this.#spoke = true;
  }

  /**
   * Writes `results` (one entry, as runtime.ts buffers it: id, status, value, start ns, run ns) as the
   * answer to the call taken, if it is that call's and its value fits; false, writing nothing, if not.
   * The caller checked that the value fits a lane.
   */
  answer(results: readonly unknown[], base: number | undefined): boolean {
    const id = results[0] as number;
    if (id !== this.#taken || results.length !== RESULT_STRIDE) return false;
    this.#taken = -1;
    if (this.#spoke) return false;
    const v = this.#v;
    const value = results[2];
    if (typeof value === 'number') {
      v.times[ANSWER_NUMBER] = value;
      v.cells[ANSWER_IS_NUMBER] = 1;
    } else {
      let length: number;
      try {
        length = encodeValueInto(value, v.bytes, ANSWER_VALUE_AT, VALUE_BYTES);
      } catch {
        return false;
      }
      if (length < 0) return false;
      v.cells[ANSWER_IS_NUMBER] = 0;
    }
    v.cells[ANSWER_STATUS] = results[1] as number;
    const times = v.times;
    times[ANSWER_START] = results[3] as number;
    times[ANSWER_RUN] = results[4] as number;
    times[ANSWER_BASE] = base ?? Number.NaN;
    Atomics.store(v.cells, ANSWER_CELL, id + 1);
    return true;
  }
}

/** Stores an argument list of at most MAX_CALL_NUMBERS numbers as float64s; false (nothing counted) for any other. */
function writeNumbers(v: Views, args: unknown): boolean {
  if (!Array.isArray(args)) return false;
  const count = args.length;
  if (count > MAX_CALL_NUMBERS) return false;
  const times = v.times;
  for (let i = 0; i < count; i++) {
    const arg: unknown = args[i];
    if (typeof arg !== 'number') return false;
    times[CALL_NUMBER_AT + i] = arg;
  }
  v.cells[CALL_NUMBERS] = count;
  return true;
}

/** The argument list writeNumbers stored (float64s keep -0 and NaN as structured clone does). */
function readNumbers(times: Float64Array, count: number): unknown[] {
  switch (count) {
    case 0:
      return [];
    case 1:
      return [times[CALL_NUMBER_AT]];
    case 2:
      return [times[CALL_NUMBER_AT], times[CALL_NUMBER_AT + 1]];
    default: {
      const args: unknown[] = [];
      for (let i = 0; i < count; i++) args.push(times[CALL_NUMBER_AT + i]);
      return args;
    }
  }
}
