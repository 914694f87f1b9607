// Graph topology arithmetic: each rank's neighbour list, checked once; neighbour collectives need the
// graph to be symmetric (j is i's neighbour exactly when i is j's), which is computed here.

import { InvalidArgumentError } from '../errors.ts';

function invalid(message: string): InvalidArgumentError {
  return new InvalidArgumentError('SKEIN_MPI_INVALID_ARGUMENT', message);
}

export class GraphTopology {
  readonly adjacency: readonly (readonly number[])[];
  readonly symmetric: boolean;

  constructor(adjacency: readonly (readonly number[])[], size: number) {
    if (!Array.isArray(adjacency) || adjacency.length === 0 || adjacency.length > size) {
      throw invalid(
        `createGraph: adjacency must list the neighbours of 1..${size} ranks, one array per rank (got ${Array.isArray(adjacency) ? `${adjacency.length} entries` : String(adjacency)})`,
      );
    }
    for (const [rank, neighbours] of adjacency.entries()) {
      if (
        !Array.isArray(neighbours) ||
        neighbours.some((n) => !Number.isInteger(n) || n < 0 || n >= adjacency.length)
      ) {
        throw invalid(
          `createGraph: the neighbours of rank ${rank} must be ranks in 0..${adjacency.length - 1} (got ${JSON.stringify(neighbours)})`,
        );
      }
      if (new Set(neighbours).size !== neighbours.length) {
        throw invalid(
          `createGraph: the neighbours of rank ${rank} list a rank twice (${JSON.stringify(neighbours)})`,
        );
      }
    }
    this.adjacency = Object.freeze(adjacency.map((neighbours) => Object.freeze([...neighbours])));
    this.symmetric = adjacency.every((neighbours, i) =>
      neighbours.every((j: number) => adjacency[j]!.includes(i)),
    );
  }

  get members(): number {
    return this.adjacency.length;
  }

  neighbours(rank: number): readonly number[] {
    const list = this.adjacency[rank];
    if (list === undefined)
      throw invalid(`neighbors: rank must be in 0..${this.members - 1} (got ${String(rank)})`);
    return list;
  }
}
