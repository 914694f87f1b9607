// Gives every runnable (task reference, actor class, inline function) a small integer key and the spec
// a worker needs to find it. The key is what travels with each task; the spec travels once per worker.

import { InvalidArgumentError } from '../errors.ts';
import { actorInfo, describe, isTask, rememberExportName, resolveExportName } from '../task.ts';
import type { FunctionSpec } from './protocol.ts';

const NO_RUNNABLE = Object.freeze({});
const NATIVE_SOURCE = /\{\s*\[native code\]\s*\}\s*$/;

export class FunctionRegistry {
  readonly #keys = new WeakMap<object, number>();
  readonly #pending = new Map<object, Promise<number>>();
  readonly #inlineKeys = new Map<string, number>();
  readonly specs: FunctionSpec[] = [];
  /** The runnable keyOf last found known (a private sentinel until then: undefined is a user's value), and its key. */
  #lastRunnable: unknown = NO_RUNNABLE;
  #lastKey = -1;

  /**
   * The key of a runnable: a number when known, a promise on first use of a task whose export name
   * must be looked up in its module.
   * @throws SKEIN_POOL_INVALID_TASK when the value is not a task reference or a self-contained function.
   */
  keyOf(runnable: unknown): number | Promise<number> {
    // Calls in a row mostly pass the same runnable: skip the WeakMap for it.
    if (runnable === this.#lastRunnable) return this.#lastKey;
    const known = this.#keys.get(runnable as object);
    if (known !== undefined) {
      this.#lastRunnable = runnable;
      this.#lastKey = known;
      return known;
    }
    if (isTask(runnable)) return this.#exportKey(runnable, runnable.moduleUrl, runnable.exportName);
    if (typeof runnable === 'function') return this.#inlineKey(runnable as (...args: never) => unknown);
    throw new InvalidArgumentError(
      'SKEIN_POOL_INVALID_TASK',
      `Expected a task reference (task(import.meta, fn)) or a self-contained function (got ${describe(runnable)})`,
    );
  }

  /**
   * The key of an actor class.
   * @throws SKEIN_POOL_INVALID_TASK when the class was not declared with actor(import.meta, Class).
   */
  actorKeyOf(Class: unknown): number | Promise<number> {
    const known = this.#keys.get(Class as object);
    if (known !== undefined) return known;
    const info = actorInfo(Class);
    if (info === undefined) {
      throw new InvalidArgumentError(
        'SKEIN_POOL_INVALID_TASK',
        `pool.actor() needs a class declared with actor(import.meta, Class) and exported (got ${describe(Class)})`,
      );
    }
    return this.#exportKey(Class as object, info.moduleUrl, info.exportName);
  }

  #exportKey(value: object, moduleUrl: string, exportName: string | undefined): number | Promise<number> {
    if (exportName !== undefined) return this.#add(value, { type: 'export', moduleUrl, exportName });
    let pending = this.#pending.get(value);
    if (pending === undefined) {
      pending = resolveExportName(value, moduleUrl, undefined).then(
        (name) => {
          this.#pending.delete(value);
          rememberExportName(value, name);
          return this.#keys.get(value) ?? this.#add(value, { type: 'export', moduleUrl, exportName: name });
        },
        (error: unknown) => {
          this.#pending.delete(value);
          throw error;
        },
      );
      this.#pending.set(value, pending);
    }
    return pending;
  }

  #inlineKey(fn: (...args: never) => unknown): number {
    const source = Function.prototype.toString.call(fn);
    if (NATIVE_SOURCE.test(source)) {
      throw new InvalidArgumentError(
        'SKEIN_POOL_INVALID_TASK',
        `${describe(fn)} is native or bound, so its source cannot run in a worker; wrap the work in a self-contained function or a task(import.meta, fn)`,
      );
    }
    // Methods written in shorthand (`m() {}`) are not expressions; wrapping them as
    // `({ m() {} }).m` keeps them callable.
    const expression = /^(async\s+)?(function\b|\(|[\w$]+\s*=>|class\b)/.test(source)
      ? source
      : `({ ${source} })[${JSON.stringify(fn.name)}]`;
    let key = this.#inlineKeys.get(expression);
    if (key === undefined) {
      key = this.specs.length;
      this.specs.push({ type: 'inline', source: expression });
      this.#inlineKeys.set(expression, key);
    }
    this.#keys.set(fn, key);
    return key;
  }

  #add(value: object, spec: FunctionSpec): number {
    const key = this.specs.length;
    this.specs.push(spec);
    this.#keys.set(value, key);
    return key;
  }
}
