// One conformance suite for every MPI transport: a job of each size runs every operation (point-to-
// point on values and buffers from 0 bytes to over 1 MiB, wildcards, ordering, probe, requests, every
// collective and reduction, dup, split, Cartesian topology) and each rank's observations must equal
// results computed here sequentially from the same inputs.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type MpirunOptions, mpirun, PROC_NULL, type TransportKind } from '../../src/mpi/index.ts';
import { everyOperation } from '../fixtures/mpi/every-operation.ts';
import {
  BIG_BCAST_LENGTH,
  bandInput,
  digest,
  MESSAGE_SIZES,
  pattern,
  RING_ALLREDUCE_LENGTH,
  recordOf,
  SEQUENCE_LENGTH,
} from '../fixtures/mpi/inputs.ts';

const JOB_TIMEOUT_MS = 60_000;

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

function referenceDims(size: number): [number, number] {
  // The most balanced factorization, larger first (MPI_Dims_create).
  let best: [number, number] = [size, 1];
  for (let a = 1; a * a <= size; a++) if (size % a === 0) best = [size / a, a];
  return best;
}

/** What rank `rank` of a job of `size` ranks must observe, computed without any messages. */
export function expectedFor(rank: number, size: number): Record<string, unknown> {
  const prev = (rank - 1 + size) % size;
  const ranks = range(size);
  const sumRanks = ranks.reduce((a, b) => a + b, 0);
  const keys = ranks.map((r) => (r * 7) % size);
  const max = Math.max(...keys);
  const min = Math.min(...keys);
  const out: Record<string, unknown> = {};
  out.ring = recordOf(prev);
  out.ringStatus = { source: prev, tag: 1 };
  out.buffers = MESSAGE_SIZES.map((length, i) => ({
    digest: digest(pattern(prev, length)),
    size: length,
    source: prev,
    tag: 100 + i,
    type: 'Uint8Array',
  }));
  out.typedEcho = {
    kind: 'Float64Array',
    length: 300_000,
    digest: digest(new Float64Array(300_000).map((_, i) => i + prev)),
    size: 2_400_000,
  };
  if (rank === 0) out.anyOrder = Object.fromEntries(ranks.slice(1).map((r) => [r, [5, 6, 7]]));
  out.seqs = range(SEQUENCE_LENGTH);
  out.iprobeNothing = true;
  out.probe = { size: (10 + prev) * 8, source: prev, tag: 11, type: 'Float64Array', first: prev };
  out.waitAny = {
    index: 1,
    value: 'fourteen',
    before: false,
    after: 'thirteen',
    tested: { done: true, value: 'thirteen' },
  };
  out.self = { self: rank };
  out.procNull = true;
  out.bcast = recordOf(size - 1);
  out.bcastBig = digest(new Float64Array(BIG_BCAST_LENGTH).map((_, i) => i * 0.5));
  out.bcastBuffer = out.bcastBig;
  out.scatter = recordOf(rank);
  out.gather = rank === size - 1 ? ranks.map(recordOf) : undefined;
  out.allgather = ranks.map(recordOf);
  out.alltoall = ranks.map((i) => `${i}->${rank}`);
  out.reduceSum = rank === 0 ? (size * (size + 1)) / 2 : undefined;
  out.reduceConcat = rank === size - 1 ? ranks.join('') : undefined;
  out.reduceTyped = rank === 0 ? [sumRanks, sumRanks, sumRanks] : undefined;
  out.allreduce = {
    SUM: (size * (size + 1)) / 2,
    PROD: ranks.reduce((a, r) => a * (r + 1), 1),
    MAX: max,
    MIN: min,
    LAND: ranks.every((r) => r > 0),
    LOR: ranks.some((r) => r > 0),
    BAND: ranks.reduce((a, r) => a & bandInput(r), 0xff),
    BOR: ranks.reduce((a, r) => a | (1 << r), 0),
    BIGINT: ranks.reduce((a, r) => a + BigInt(r) * 10n ** 15n, 0n),
    MAXLOC: [max, keys.indexOf(max)],
    MINLOC: [min, keys.indexOf(min)],
    typed: range(10).map((i) => sumRanks * i),
    concat: ranks.join(''),
  };
  const half = RING_ALLREDUCE_LENGTH >> 1;
  out.allreduceRing = {
    first: sumRanks,
    last: sumRanks + size * (RING_ALLREDUCE_LENGTH - 1),
    mid: sumRanks + size * half,
  };
  out.scan = ((rank + 1) * (rank + 2)) / 2;
  out.exscan = rank === 0 ? undefined : (rank * (rank + 1)) / 2;
  out.scanConcat = range(rank + 1).join('');
  const start = (rank * (rank + 1)) / 2;
  out.scatterv = range(rank + 1).map((k) => start + k);
  const concatenated = ranks.flatMap((r) => new Array(r + 1).fill(r));
  const counts = ranks.map((r) => r + 1);
  out.gatherv = rank === 0 ? { data: concatenated, counts } : undefined;
  out.allgatherv = { data: concatenated, counts };
  out.alltoallv = {
    data: ranks.flatMap((i) => new Array(rank + 1).fill(i * 100 + rank)),
    counts: ranks.map(() => rank + 1),
  };
  out.dupIsolated = true;
  out.dupSize = size;
  const members = ranks.filter((r) => r % 2 === rank % 2).sort((a, b) => b - a);
  out.split = {
    rank: members.indexOf(rank),
    size: members.length,
    sum: members.reduce((a, b) => a + b, 0),
    group: members,
  };
  out.splitUndefined = rank === 0 ? null : size - 1;
  const [rows, cols] = referenceDims(size);
  const [row, col] = [Math.floor(rank / cols), rank % cols];
  const at = (r: number, c: number): number =>
    c < 0 || c >= cols ? PROC_NULL : ((r + rows) % rows) * cols + c;
  const down = { source: at(row - 1, col), dest: at(row + 1, col) };
  const right = { source: at(row, col - 1), dest: at(row, col + 1) };
  out.cart = {
    dims: [rows, cols],
    coords: [row, col],
    down,
    right,
    fromUp: down.source,
    fromLeft: right.source === PROC_NULL ? undefined : right.source,
  };
  const neighbours = [...new Set([(rank + 1) % size, prev])].filter((n) => n !== rank);
  out.graph = { neighbors: neighbours, values: neighbours.map((n) => recordOf(n).text) };
  return out;
}

/** Registers the suite for one transport and the job sizes it runs. */
export function mpiConformance(
  transport: TransportKind,
  sizes: readonly number[],
  variant: { readonly name: string; readonly options: MpirunOptions } = { name: '', options: {} },
): void {
  for (const size of sizes) {
    test(`${transport}${variant.name}: every operation on ${size} rank${size === 1 ? '' : 's'} matches the sequential reference`, async () => {
      const results = await mpirun(size, everyOperation, {
        transport,
        timeout: JOB_TIMEOUT_MS,
        deadlockTimeout: 20_000,
        ...variant.options,
      });
      assert.equal(results.length, size);
      for (const [rank, observed] of results.entries()) {
        const expected = expectedFor(rank, size);
        for (const key of new Set([...Object.keys(expected), ...Object.keys(observed)])) {
          assert.deepEqual(observed[key], expected[key], `rank ${rank} of ${size}: ${key}`);
        }
      }
    });
  }
}
