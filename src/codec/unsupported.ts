// Why a value cannot be encoded, and where it sits. The encoder's hot path tracks no path: a failure
// is thrown as an EncodeFailure that each enclosing container annotates while it unwinds, and only
// then is the message built, naming the path from the root, the type, and the way out.

import { InvalidArgumentError } from '../errors.ts';

const PLAIN_DATA =
  'send plain data (numbers, strings, bigints, arrays, plain objects, Map, Set, Date, RegExp, typed arrays, errors)';
const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;
const SHOWN_SEGMENTS = 12;

/** Thrown inside the encoder, turned into an InvalidArgumentError at its top. Not an Error: no stack. */
export class EncodeFailure {
  readonly what: string;
  readonly hint: string;
  readonly tooDeep: boolean;
  /** Path segments and the containers holding them, innermost first, filled while unwinding. */
  readonly segments: string[] = [];
  readonly containers: object[] = [];

  constructor(what: string, hint: string = PLAIN_DATA, tooDeep = false) {
    this.what = what;
    this.hint = hint;
    this.tooDeep = tooDeep;
  }

  /** Records that the failure happened below `container`, reached from it through `segment`. */
  at(segment: string, container: object): this {
    this.segments.push(segment);
    this.containers.push(container);
    return this;
  }

  toError(): InvalidArgumentError {
    const segments = this.segments.toReversed();
    const containers = this.containers.toReversed();
    if (this.tooDeep) {
      // A cycle makes the encoder descend until the depth limit; the first container met twice on the
      // way down names it.
      for (let k = 1; k < containers.length; k++) {
        const j = containers.indexOf(containers[k]!);
        if (j < k) {
          return new InvalidArgumentError(
            'SKEIN_CODEC_UNSUPPORTED',
            `Cannot encode ${pathOf(segments.slice(0, k))}: it is circular (it refers back to ${pathOf(segments.slice(0, j))}); ` +
              'the codec copies trees, not graphs: break the cycle, or send ids instead of references',
          );
        }
      }
    }
    const shown =
      segments.length > SHOWN_SEGMENTS
        ? `${pathOf(segments.slice(0, SHOWN_SEGMENTS / 2))}…${segments.slice(-SHOWN_SEGMENTS / 2).join('')}`
        : pathOf(segments);
    return new InvalidArgumentError(
      'SKEIN_CODEC_UNSUPPORTED',
      `Cannot encode ${shown}: ${this.what}; ${this.hint}`,
    );
  }
}

function pathOf(segments: readonly string[]): string {
  return `value${segments.join('')}`;
}

export function keySegment(key: string): string {
  return IDENTIFIER.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

export function indexSegment(index: number): string {
  return `[${index}]`;
}

/** The segment for a Map entry's value: `.get("id")`, or `.get(<key of entry 3>)` for an object key. */
export function mapValueSegment(key: unknown, index: number): string {
  switch (typeof key) {
    case 'string':
      return `.get(${JSON.stringify(key.length > 40 ? `${key.slice(0, 40)}…` : key)})`;
    case 'number':
    case 'boolean':
    case 'undefined':
      return `.get(${String(key)})`;
    case 'bigint':
      return `.get(${key}n)`;
    default:
      return key === null ? '.get(null)' : `.get(<key of entry ${index}>)`;
  }
}

export function mapKeySegment(index: number): string {
  return `.keys()[${index}]`;
}

export function setElementSegment(index: number): string {
  return `.values()[${index}]`;
}

/** The failure for a value of an unsupported type: "a function (handler)", "an instance of class Point". */
export function unsupportedValue(value: unknown): EncodeFailure {
  switch (typeof value) {
    case 'function': {
      const name = (value as { name?: unknown }).name;
      return new EncodeFailure(
        typeof name === 'string' && name !== '' ? `a function (${name})` : 'a function',
      );
    }
    case 'symbol':
      return new EncodeFailure(`a symbol (${String(value)})`);
    case 'object':
      return unsupportedObject(value as object);
    default:
      return new EncodeFailure(`a value of type ${typeof value}`);
  }
}

function unsupportedObject(value: object): EncodeFailure {
  if (value instanceof SharedArrayBuffer) {
    return new EncodeFailure(
      'a SharedArrayBuffer',
      'shared memory cannot travel inside a message: pass the SharedArrayBuffer itself to the worker instead',
    );
  }
  if (value instanceof Promise) return new EncodeFailure('a Promise', `await it first, then ${PLAIN_DATA}`);
  if (value instanceof WeakMap || value instanceof WeakSet || value instanceof WeakRef) {
    const name = value instanceof WeakMap ? 'WeakMap' : value instanceof WeakSet ? 'WeakSet' : 'WeakRef';
    return new EncodeFailure(`a ${name}`, `its entries cannot be listed; ${PLAIN_DATA}`);
  }
  const name = constructorName(value);
  return new EncodeFailure(
    name === undefined ? 'an object with a custom prototype' : `an instance of class ${name}`,
    `class instances lose their prototype; send a plain object (for example its toJSON()) and rebuild it, or ${PLAIN_DATA}`,
  );
}

function constructorName(value: object): string | undefined {
  try {
    const ctor = (value as { constructor?: unknown }).constructor;
    const name = typeof ctor === 'function' ? ctor.name : undefined;
    return typeof name === 'string' && name !== '' ? name : undefined;
  } catch {
    return undefined;
  }
}

/** The failure for a shared-memory view: a copy would silently stop sharing. */
export function sharedView(kind: string): EncodeFailure {
  return new EncodeFailure(
    `a ${kind} over a SharedArrayBuffer`,
    'shared memory cannot travel inside a message: pass the SharedArrayBuffer itself to the worker instead, or send a copy (view.slice())',
  );
}

export function tooDeep(maxDepth: number): EncodeFailure {
  return new EncodeFailure(
    `it is nested deeper than ${maxDepth} levels`,
    'flatten the structure, or check it for a cycle',
    true,
  );
}

export function tooLarge(maxBytes: number): EncodeFailure {
  return new EncodeFailure(
    `its encoding would exceed ${maxBytes} bytes`,
    'split it into several messages, or share large arrays through a SharedArrayBuffer',
  );
}
