// Cartesian topology arithmetic (row-major like MPI): rank <-> coordinates, shifts with periodic or
// PROC_NULL edges, and dimsCreate (MPI_Dims_create) to pick a balanced grid for a rank count.

import { InvalidArgumentError } from '../errors.ts';
import { PROC_NULL } from './constants.ts';

export interface CartShift {
  /** The rank this one receives from in the shift (PROC_NULL at a non-periodic edge). */
  readonly source: number;
  /** The rank this one sends to in the shift. */
  readonly dest: number;
}

function invalid(message: string): InvalidArgumentError {
  return new InvalidArgumentError('SKEIN_MPI_INVALID_ARGUMENT', message);
}

export class CartTopology {
  readonly dims: readonly number[];
  readonly periods: readonly boolean[];
  readonly members: number;

  constructor(dims: readonly number[], periods: readonly boolean[] | undefined, size: number) {
    if (!Array.isArray(dims) || dims.length === 0 || dims.some((d) => !Number.isInteger(d) || d < 1)) {
      throw invalid(
        `createCart: dims must be a non-empty array of integers >= 1 (got ${JSON.stringify(dims)}); dimsCreate(size, n) picks some`,
      );
    }
    const members = dims.reduce((a, b) => a * b, 1);
    if (members > size) {
      throw invalid(
        `createCart: dims ${JSON.stringify(dims)} need ${members} ranks but the communicator has ${size}`,
      );
    }
    const resolved = periods ?? dims.map(() => false);
    if (
      !Array.isArray(resolved) ||
      resolved.length !== dims.length ||
      resolved.some((p) => typeof p !== 'boolean')
    ) {
      throw invalid(
        `createCart: periods must be ${dims.length} booleans, one per dimension (got ${JSON.stringify(periods)})`,
      );
    }
    this.dims = Object.freeze([...dims]);
    this.periods = Object.freeze([...resolved]);
    this.members = members;
  }

  coords(rank: number): number[] {
    if (!Number.isInteger(rank) || rank < 0 || rank >= this.members) {
      throw invalid(`coords: rank must be in 0..${this.members - 1} (got ${String(rank)})`);
    }
    const out = new Array<number>(this.dims.length);
    for (let d = this.dims.length - 1; d >= 0; d--) {
      out[d] = rank % this.dims[d]!;
      rank = Math.floor(rank / this.dims[d]!);
    }
    return out;
  }

  rankOf(coords: readonly number[]): number {
    if (
      !Array.isArray(coords) ||
      coords.length !== this.dims.length ||
      coords.some((c) => !Number.isInteger(c))
    ) {
      throw invalid(`rankOf: coords must be ${this.dims.length} integers (got ${JSON.stringify(coords)})`);
    }
    let rank = 0;
    for (let d = 0; d < this.dims.length; d++) {
      const extent = this.dims[d]!;
      let c = coords[d]!;
      if (c < 0 || c >= extent) {
        if (!this.periods[d]) return PROC_NULL;
        c = ((c % extent) + extent) % extent;
      }
      rank = rank * extent + c;
    }
    return rank;
  }

  shift(rank: number, direction: number, displacement: number): CartShift {
    if (!Number.isInteger(direction) || direction < 0 || direction >= this.dims.length) {
      throw invalid(
        `shift: direction must be a dimension in 0..${this.dims.length - 1} (got ${String(direction)})`,
      );
    }
    if (!Number.isInteger(displacement))
      throw invalid(`shift: displacement must be an integer (got ${String(displacement)})`);
    const here = this.coords(rank);
    const at = (delta: number): number => {
      const moved = [...here];
      moved[direction]! += delta;
      return this.rankOf(moved);
    };
    return { source: at(-displacement), dest: at(displacement) };
  }
}

/**
 * A balanced grid of `ndims` dimensions for `size` ranks (MPI_Dims_create), largest extent first.
 * @example dimsCreate(12, 2) // [4, 3]
 * @throws SKEIN_MPI_INVALID_ARGUMENT when size or ndims is not an integer >= 1.
 */
export function dimsCreate(size: number, ndims: number): number[] {
  if (!Number.isInteger(size) || size < 1 || !Number.isInteger(ndims) || ndims < 1) {
    throw invalid(`dimsCreate: size and ndims must be integers >= 1 (got ${String(size)}, ${String(ndims)})`);
  }
  const dims = new Array<number>(ndims).fill(1);
  const factors: number[] = [];
  let n = size;
  for (let p = 2; p * p <= n; p++) {
    while (n % p === 0) {
      factors.push(p);
      n /= p;
    }
  }
  if (n > 1) factors.push(n);
  for (const factor of factors.sort((a, b) => b - a)) {
    let smallest = 0;
    for (let d = 1; d < ndims; d++) if (dims[d]! < dims[smallest]!) smallest = d;
    dims[smallest]! *= factor;
  }
  return dims.sort((a, b) => b - a);
}
