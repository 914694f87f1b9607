// Reduction operations: MPI's predefined ones and user functions. Each combines two contributions,
// `a` from the lower rank and `b` from the higher, so non-commutative user operations see rank order.
// Scalars (number, bigint, boolean) combine directly; typed arrays and arrays combine element-wise into
// a new array; MAXLOC/MINLOC take [value, index] pairs (typed arrays: interleaved pairs).

import { InvalidArgumentError } from '../errors.ts';
import { isTypedArray, type TypedArray } from './typed.ts';

const OP_BRAND = Symbol.for('skein.mpi.op');

type Scalar = number | bigint | boolean;
type Combine = (a: Scalar, b: Scalar) => Scalar;

export class Op {
  readonly name: string;
  /** Whether a ∘ b = b ∘ a; non-commutative operations are applied strictly in rank order. */
  readonly commutative: boolean;
  readonly #apply: (a: unknown, b: unknown) => unknown;
  readonly #into: Into | undefined;

  private constructor(
    name: string,
    commutative: boolean,
    apply: (a: unknown, b: unknown) => unknown,
    into?: Into,
  ) {
    this.name = name;
    this.commutative = commutative;
    this.#apply = apply;
    this.#into = into;
    Object.defineProperty(this, OP_BRAND, { value: true });
    Object.freeze(this);
  }

  /**
   * A user reduction: `fn(a, b)` combines the lower rank's contribution `a` with the higher rank's `b`.
   * @example const CONCAT = Op.create((a: string, b: string) => a + b, false);
   * @throws SKEIN_MPI_INVALID_ARGUMENT when fn is not a function.
   */
  static create<T>(fn: (a: T, b: T) => T, commutative = true): Op {
    if (typeof fn !== 'function') {
      throw new InvalidArgumentError(
        'SKEIN_MPI_INVALID_ARGUMENT',
        `Op.create needs a function (a, b) => combined (got ${typeof fn})`,
      );
    }
    return new Op(fn.name || 'user', commutative === true, fn as (a: unknown, b: unknown) => unknown);
  }

  /** @internal */
  static predefined(name: string, apply: (a: unknown, b: unknown) => unknown, into?: Into): Op {
    return new Op(name, true, apply, into);
  }

  /** @internal Whether typed arrays of one kind combine element-wise in a compiled loop (applyInto). */
  get elementwise(): boolean {
    return this.#into !== undefined;
  }

  /** Combines two contributions; `a` comes from the lower rank. */
  apply(a: unknown, b: unknown): unknown {
    return this.#apply(a, b);
  }

  /**
   * @internal Combines two typed arrays of one kind and length into `out` (which may be `a` or `b`):
   * with no allocation for the predefined element-wise operations, else through apply().
   */
  applyInto(a: TypedArray, b: TypedArray, out: TypedArray): void {
    if (this.#into?.(a, b, out) === true) return;
    out.set(this.apply(a, b) as never);
  }

  static [Symbol.hasInstance](value: unknown): boolean {
    return (
      typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[OP_BRAND] === true
    );
  }
}

/** A loop over whole typed arrays, for the hot predefined operations (no call per element). */
type Kernel = (x: TypedArray, y: TypedArray, z: TypedArray) => void;
/** Combines a and b into out when it can (same kind and length, a kernel); false changes nothing. */
type Into = (a: TypedArray, b: TypedArray, out: TypedArray) => boolean;

interface Elementwise {
  readonly apply: (a: unknown, b: unknown) => unknown;
  readonly into: Into | undefined;
}

/**
 * A kernel's loop computing `z[i] = <expression of x[i] and y[i]>`, compiled once per typed-array kind:
 * each compiled function keeps its own type feedback, so its element accesses stay monomorphic. One
 * loop shared by every kind went megamorphic once a program reduced two kinds (SUM of 131,072 doubles:
 * 1.8 ms instead of ~0.1 ms). Closures of one function literal share their feedback, hence Function,
 * and the kind is named in the source: V8 caches compiled sources, so two identical ones would share too.
 * Each z[i] is written after x[i] and y[i] are read, so z may be x or y.
 */
function compileKernel(expression: string, kind: string): Kernel {
  return new Function(
    'x',
    'y',
    'z',
    `// ${kind}\nconst n = z.length;\nfor (let i = 0; i < n; i++) z[i] = ${expression};`,
  ) as Kernel;
}

function elementwise(name: string, combine: Combine, expression?: string): Elementwise {
  const kernels = new Map<unknown, Kernel>();
  const kernelFor = (a: TypedArray, b: TypedArray): Kernel | undefined => {
    if (expression === undefined || a.constructor !== b.constructor) return undefined;
    let kernel = kernels.get(a.constructor);
    if (kernel === undefined)
      kernels.set(a.constructor, (kernel = compileKernel(expression, a.constructor.name)));
    return kernel;
  };
  const apply = (a: unknown, b: unknown): unknown => {
    if (isTypedArray(a) && isTypedArray(b)) {
      sameShape(name, a.length, b.length);
      const out = new (a.constructor as new (length: number) => TypedArray)(a.length);
      const kernel = kernelFor(a, b);
      if (kernel !== undefined) {
        kernel(a, b, out);
        return out;
      }
      const x = a as unknown as Scalar[];
      const y = b as unknown as Scalar[];
      const z = out as unknown as Scalar[];
      for (let i = 0; i < x.length; i++) z[i] = combine(x[i]!, y[i]!);
      return out;
    }
    if (Array.isArray(a) && Array.isArray(b)) {
      sameShape(name, a.length, b.length);
      return a.map((item, i) => apply(item, b[i]));
    }
    if (isScalar(a) && isScalar(b) && typeof a === typeof b) return combine(a, b);
    throw new InvalidArgumentError(
      'SKEIN_MPI_INVALID_ARGUMENT',
      `${name} combines numbers, bigints, booleans, typed arrays or arrays of them of one kind (got ${kindOf(a)} and ${kindOf(b)}); use Op.create for other values`,
    );
  };
  const into: Into | undefined =
    expression === undefined
      ? undefined
      : (a, b, out) => {
          if (a.length !== b.length || out.length !== a.length || out.constructor !== a.constructor)
            return false;
          const kernel = kernelFor(a, b);
          if (kernel === undefined) return false;
          kernel(a, b, out);
          return true;
        };
  return { apply, into };
}

function sameShape(name: string, left: number, right: number): void {
  if (left !== right) {
    throw new InvalidArgumentError(
      'SKEIN_MPI_INVALID_ARGUMENT',
      `${name} needs contributions of the same length on every rank (got ${left} and ${right})`,
    );
  }
}

function isScalar(value: unknown): value is Scalar {
  return typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean';
}

function kindOf(value: unknown): string {
  if (isTypedArray(value)) return value.constructor.name;
  if (Array.isArray(value)) return 'array';
  return value === null ? 'null' : typeof value;
}

const add = (a: Scalar, b: Scalar): Scalar =>
  typeof a === 'bigint' ? a + (b as bigint) : (a as number) + (b as number);
const mul = (a: Scalar, b: Scalar): Scalar =>
  typeof a === 'bigint' ? a * (b as bigint) : (a as number) * (b as number);
const truth = (a: Scalar, result: boolean): Scalar =>
  typeof a === 'boolean' ? result : typeof a === 'bigint' ? BigInt(result) : Number(result);

/** Location pairs [value, index]: the larger (or smaller) value wins, ties go to the smaller index. */
function locate(
  name: string,
  better: (x: Scalar, y: Scalar) => boolean,
): (a: unknown, b: unknown) => unknown {
  const pick = (av: Scalar, ai: Scalar, bv: Scalar, bi: Scalar): [Scalar, Scalar] => {
    if (better(bv, av) || (bv === av && bi < ai)) return [bv, bi];
    return [av, ai];
  };
  return (a, b) => {
    if (isTypedArray(a) && isTypedArray(b) && a.length % 2 === 0) {
      sameShape(name, a.length, b.length);
      const out = new (a.constructor as new (length: number) => TypedArray)(a.length);
      const x = a as unknown as Scalar[];
      const y = b as unknown as Scalar[];
      const z = out as unknown as Scalar[];
      for (let i = 0; i < x.length; i += 2) [z[i], z[i + 1]] = pick(x[i]!, x[i + 1]!, y[i]!, y[i + 1]!);
      return out;
    }
    if (isPair(a) && isPair(b)) return pick(a[0], a[1], b[0], b[1]);
    if (Array.isArray(a) && Array.isArray(b) && a.every(isPair) && b.every(isPair)) {
      sameShape(name, a.length, b.length);
      return a.map((pair: [Scalar, Scalar], i) => {
        const other = b[i] as [Scalar, Scalar];
        return pick(pair[0], pair[1], other[0], other[1]);
      });
    }
    throw new InvalidArgumentError(
      'SKEIN_MPI_INVALID_ARGUMENT',
      `${name} combines [value, index] pairs, arrays of them, or typed arrays of interleaved pairs (got ${kindOf(a)} and ${kindOf(b)})`,
    );
  };
}

function isPair(value: unknown): value is [Scalar, Scalar] {
  return Array.isArray(value) && value.length === 2 && isScalar(value[0]) && isScalar(value[1]);
}

function predefinedElementwise(name: string, combine: Combine, expression?: string): Op {
  const { apply, into } = elementwise(name, combine, expression);
  return Op.predefined(name, apply, into);
}

// The expressions run on bigint arrays too, hence no Math.max/min.
export const SUM: Op = predefinedElementwise('SUM', add, 'x[i] + y[i]');
export const PROD: Op = predefinedElementwise('PROD', mul, 'x[i] * y[i]');
export const MAX: Op = predefinedElementwise(
  'MAX',
  // biome-ignore lint/complexity/useMathMinMax: bigints too, which Math.max refuses.
  (a, b) => (b > a ? b : a),
  'y[i] > x[i] ? y[i] : x[i]',
);
export const MIN: Op = predefinedElementwise(
  'MIN',
  // biome-ignore lint/complexity/useMathMinMax: bigints too, which Math.min refuses.
  (a, b) => (b < a ? b : a),
  'y[i] < x[i] ? y[i] : x[i]',
);
export const LAND: Op = predefinedElementwise('LAND', (a, b) => truth(a, Boolean(a) && Boolean(b)));
export const LOR: Op = predefinedElementwise('LOR', (a, b) => truth(a, Boolean(a) || Boolean(b)));
export const BAND: Op = predefinedElementwise('BAND', (a, b) =>
  typeof a === 'bigint' ? a & (b as bigint) : (a as number) & (b as number),
);
export const BOR: Op = predefinedElementwise('BOR', (a, b) =>
  typeof a === 'bigint' ? a | (b as bigint) : (a as number) | (b as number),
);
export const MAXLOC: Op = Op.predefined(
  'MAXLOC',
  locate('MAXLOC', (x, y) => x > y),
);
export const MINLOC: Op = Op.predefined(
  'MINLOC',
  locate('MINLOC', (x, y) => x < y),
);
