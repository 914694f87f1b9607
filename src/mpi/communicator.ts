// A communicator: a group of ranks and a pair of contexts (one for user point-to-point messages, one
// hidden for collectives) over the rank's engine. Point-to-point in two forms like mpi4py: any value
// through the codec, typed arrays as raw bytes (and into the caller's buffer with recvBuffer);
// collectives; dup and split; Cartesian topologies (CartComm).
// Invariant: a communicator's contexts are the same number on every member and used by no other
// communicator whose group shares a rank (dup/split agree on the largest free context of the members).

import { InvalidArgumentError, SkeinError } from '../errors.ts';
import type { Activity } from './activity.ts';
import { type CartShift, CartTopology } from './cartesian.ts';
import * as collective from './collectives.ts';
import { ANY_SOURCE, ANY_TAG, PROC_NULL, TAG_UB } from './constants.ts';
import type { Engine, Envelope, PostedReceive } from './engine.ts';
import { GraphTopology } from './graph.ts';
import { MAX as MAX_OP, Op } from './ops.ts';
import type { Received } from './payload.ts';
import { pack, unpack } from './payload.ts';
import { Request } from './request.ts';
import { Status } from './status.ts';
import { bytesOf, dtypeName, dtypeOf, isTypedArray, type TypedArray, typedFromBytes } from './typed.ts';
import { checkWaitOptions, throwIfAborted, type WaitOptions, waitTracked } from './waiting.ts';

/** The world communicator's context (runtime.ts); dup and split take others. */
const WORLD_CONTEXT = 0;
/** Typed arrays up to this many bytes allreduce through shared memory on thread ranks (see transport). */
const SHARED_ALLREDUCE_MAX_BYTES = 256;

/** The options of a call that passed none: shared, never written. */
const NO_OPTIONS: RecvOptions = Object.freeze({});
/** What a send that completed within the call returns: one settled promise, not one per message. */
const RESOLVED: Promise<void> = Promise.resolve();

/** split's color for a rank that joins no new communicator (it gets null). */
export const UNDEFINED = -32766;

export interface RecvOptions extends WaitOptions {
  /** Filled with the message's source, tag and size when it arrives. */
  readonly status?: Status;
}

/** The rank's shared machinery, one per rank. */
export interface RankCore {
  readonly engine: Engine;
  readonly activity: Activity;
  /** Ends the whole job with this rank's error (MPI_Abort). */
  readonly abort: (error: Error) => void;
}

function invalid(message: string): InvalidArgumentError {
  return new InvalidArgumentError('SKEIN_MPI_INVALID_ARGUMENT', message);
}

export class Communicator {
  /** This rank's number in the communicator, 0..size-1. */
  readonly rank: number;
  readonly size: number;
  readonly #core: RankCore;
  readonly #context: number;
  readonly #group: readonly number[];
  readonly #local: Map<number, number>;
  /** World rank -> this communicator's rank, by index (-1: not a member): #local without a hash per message. */
  readonly #localByWorld: number[];
  readonly #channel: collective.CollectiveChannel;

  /** @internal communicators come from world(), dup(), split() and createCart() */
  constructor(core: RankCore, context: number, group: readonly number[]) {
    this.#core = core;
    this.#context = context;
    this.#group = Object.freeze([...group]);
    this.#local = new Map(group.map((world, local) => [world, local]));
    this.#localByWorld = new Array<number>(core.engine.size).fill(-1);
    for (const [local, world] of group.entries()) this.#localByWorld[world] = local;
    const me = this.#local.get(core.engine.rank);
    if (me === undefined)
      throw new SkeinError(
        'SKEIN_INTERNAL',
        'a communicator was built without this rank; this is a bug in Skein',
      );
    this.rank = me;
    this.size = group.length;
    this.#channel = {
      rank: this.rank,
      size: this.size,
      send: (value, dest, tag) => this.#send(this.#context + 1, value, dest, tag),
      post: (value, dest, tag) => this.#sendNow(this.#context + 1, value, dest, tag, false),
      recv: (source, tag) => {
        const pending = this.#post(this.#context + 1, source, tag, null, 0);
        if (pending.matched !== null) return Promise.resolve(unpack(pending.matched));
        return pending.received().then(unpack);
      },
      recvInto: (into, source, tag) =>
        this.#receive(this.#context + 1, source, tag, into).then((message) => {
          this.#into(into, message);
        }),
    };
  }

  /** The world ranks of this communicator's members, by communicator rank. */
  get group(): readonly number[] {
    return this.#group;
  }

  // Point-to-point ----------------------------------------------------------------------------------

  /**
   * Sends a value (any codec data; a typed array travels as raw bytes) to `dest`. Resolves when the
   * value may be changed again: at once for small messages, once the receiver matched for large ones.
   * @example await comm.send({ step: 1 }, 1, 7);
   * @throws SKEIN_MPI_INVALID_ARGUMENT for a bad rank or tag; SKEIN_CODEC_UNSUPPORTED for a value the codec cannot carry.
   */
  send(value: unknown, dest: number, tag = 0, options: WaitOptions = NO_OPTIONS): Promise<void> {
    try {
      this.#checkDest(dest, 'send');
      this.#checkTag(tag, 'send');
      checkWaitOptions(options, 'send');
      throwIfAborted(options);
      if (dest === PROC_NULL) return Promise.resolve();
      const sent = this.#sendNow(this.#context, value, dest, tag, true);
      // Copied out at once (eager): nothing to wait for, so nothing a deadlock report would name.
      if (sent === undefined && options.signal === undefined && options.timeout === undefined) {
        return RESOLVED;
      }
      return waitTracked(
        this.#core.activity,
        `send(dest=${dest}, tag=${tag}${sizeNote(value)})`,
        sent ?? Promise.resolve(),
        options,
      );
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Receives the next value matching `source` and `tag` (ANY_SOURCE, ANY_TAG by default).
   * @example const value = await comm.recv<number[]>(0, 7, { status });
   */
  recv<T = unknown>(
    source: number = ANY_SOURCE,
    tag: number = ANY_TAG,
    options: RecvOptions = NO_OPTIONS,
  ): Promise<T> {
    try {
      this.#checkSource(source, 'recv');
      this.#checkTag(tag, 'recv', true);
      checkWaitOptions(options, 'recv');
      throwIfAborted(options);
      if (source === PROC_NULL) {
        options.status?.set(PROC_NULL, ANY_TAG, 0, 0);
        return Promise.resolve(undefined as T);
      }
      if (source !== ANY_SOURCE) {
        // A small value from a named rank is decoded straight from the transport when nothing else
        // could take it first (recvBuffer does the same).
        const engine = this.#core.engine;
        const taken = engine.receiveNow(this.#context, this.#group[source]!, tag, null, 0);
        if (taken >= 0) {
          options.status?.set(source, tag === ANY_TAG ? engine.takenTag : tag, taken, 0);
          return Promise.resolve(engine.takenValue() as T);
        }
      }
      const pending = this.#post(this.#context, source, tag, null, 0);
      const now = pending.matched;
      if (now !== null) {
        // Matched during the call (the message was there, or came within the sync wait): nothing to
        // track, and no promise chain between the message and the caller.
        this.#fill(options.status, now);
        return Promise.resolve(unpack(now) as T);
      }
      if (pending.failed !== null) return Promise.reject(pending.failed);
      const received = pending.promise().then((message) => {
        this.#fill(options.status, message);
        return unpack(message) as T;
      });
      return waitTracked(
        this.#core.activity,
        `recv(source=${showRank(source)}, tag=${showTag(tag)})`,
        received,
        options,
        () => pending.cancel(),
      );
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Starts a send; the request's wait() resolves when the value may be changed again. */
  isend(value: unknown, dest: number, tag = 0): Request<void> {
    this.#checkDest(dest, 'isend');
    this.#checkTag(tag, 'isend');
    const sent = dest === PROC_NULL ? Promise.resolve() : this.#send(this.#context, value, dest, tag);
    return new Request(sent, this.#core.activity, `isend(dest=${dest}, tag=${tag}${sizeNote(value)})`);
  }

  /** Starts a receive; the request's wait() resolves with the value and sets request.status. */
  irecv<T = unknown>(source: number = ANY_SOURCE, tag: number = ANY_TAG): Request<T> {
    this.#checkSource(source, 'irecv');
    this.#checkTag(tag, 'irecv', true);
    let cancel = (): boolean => false;
    let request!: Request<T>;
    const received =
      source === PROC_NULL
        ? Promise.resolve(undefined as T)
        : this.#receive(this.#context, source, tag, null, (c) => (cancel = c)).then((message) => {
            request.status = this.#fill(new Status(), message);
            return unpack(message) as T;
          });
    request = new Request(
      received,
      this.#core.activity,
      `irecv(source=${showRank(source)}, tag=${showTag(tag)})`,
      () => cancel(),
    );
    return request;
  }

  /** Sends a typed array's bytes with no serialization (same as send for a typed array). */
  sendBuffer(buffer: TypedArray, dest: number, tag = 0, options: WaitOptions = NO_OPTIONS): Promise<void> {
    if (!isTypedArray(buffer)) return Promise.reject(collectiveTypedError('sendBuffer', buffer));
    return this.send(buffer, dest, tag, options);
  }

  /**
   * Receives a buffer message into `buffer` (the caller's memory, no allocation for large messages).
   * Resolves with the status; status.size is the bytes received.
   * @throws SKEIN_MPI_TRUNCATED when the message is larger than buffer; SKEIN_MPI_TYPE_MISMATCH when it is a value or of another element type.
   */
  recvBuffer(
    buffer: TypedArray,
    source: number = ANY_SOURCE,
    tag: number = ANY_TAG,
    options: WaitOptions = NO_OPTIONS,
  ): Promise<Status> {
    try {
      if (!isTypedArray(buffer)) throw collectiveTypedError('recvBuffer', buffer);
      this.#checkSource(source, 'recvBuffer');
      this.#checkTag(tag, 'recvBuffer', true);
      checkWaitOptions(options, 'recvBuffer');
      throwIfAborted(options);
      if (source === PROC_NULL) return Promise.resolve(new Status().set(PROC_NULL, ANY_TAG, 0, 0));
      const target = bytesOf(buffer);
      const dtype = dtypeOf(buffer);
      if (source !== ANY_SOURCE) {
        // A small message from a named rank is read from the transport straight into the buffer when
        // nothing else could take it first: no posted receive, no envelope, no promise chain.
        const engine = this.#core.engine;
        const taken = engine.receiveNow(this.#context, this.#group[source]!, tag, target, dtype);
        if (taken >= 0) {
          return Promise.resolve(
            new Status().set(source, tag === ANY_TAG ? engine.takenTag : tag, taken, dtype),
          );
        }
      }
      const pending = this.#post(this.#context, source, tag, target, dtype);
      if (pending.matched !== null)
        return Promise.resolve(this.#into(buffer, pending.matched, pending.intoDtype, pending.into!));
      if (pending.failed !== null) return Promise.reject(pending.failed);
      const received = pending
        .promise()
        .then((message) => this.#into(buffer, message, pending.intoDtype, pending.into!));
      return waitTracked(
        this.#core.activity,
        `recvBuffer(source=${showRank(source)}, tag=${showTag(tag)}, ${buffer.byteLength} B)`,
        received,
        options,
        () => pending.cancel(),
      );
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Starts a buffer send. */
  isendBuffer(buffer: TypedArray, dest: number, tag = 0): Request<void> {
    if (!isTypedArray(buffer)) throw collectiveTypedError('isendBuffer', buffer);
    return this.isend(buffer, dest, tag);
  }

  /** Starts a receive into `buffer`; wait() resolves with the status. */
  irecvBuffer(buffer: TypedArray, source: number = ANY_SOURCE, tag: number = ANY_TAG): Request<Status> {
    if (!isTypedArray(buffer)) throw collectiveTypedError('irecvBuffer', buffer);
    this.#checkSource(source, 'irecvBuffer');
    this.#checkTag(tag, 'irecvBuffer', true);
    let cancel = (): boolean => false;
    let request!: Request<Status>;
    const received =
      source === PROC_NULL
        ? Promise.resolve(new Status().set(PROC_NULL, ANY_TAG, 0, 0))
        : this.#receive(this.#context, source, tag, buffer, (c) => (cancel = c)).then((message) => {
            request.status = this.#into(buffer, message);
            return request.status;
          });
    request = new Request(
      received,
      this.#core.activity,
      `irecvBuffer(source=${showRank(source)}, tag=${showTag(tag)})`,
      () => cancel(),
    );
    return request;
  }

  /** Sends to `dest` and receives from `source` at once (no deadlock between two partners). */
  async sendrecv<T = unknown>(
    value: unknown,
    dest: number,
    sendTag = 0,
    source: number = ANY_SOURCE,
    recvTag: number = ANY_TAG,
    options: RecvOptions = {},
  ): Promise<T> {
    const sent = this.isend(value, dest, sendTag);
    const received = this.recv<T>(source, recvTag, options);
    const [, result] = await Promise.all([sent.wait(), received]);
    return result;
  }

  /** Waits for a matching message without receiving it; resolves with its status. */
  probe(source: number = ANY_SOURCE, tag: number = ANY_TAG, options: WaitOptions = {}): Promise<Status> {
    try {
      this.#checkSource(source, 'probe');
      this.#checkTag(tag, 'probe', true);
      checkWaitOptions(options, 'probe');
      if (source === PROC_NULL) return Promise.resolve(new Status().set(PROC_NULL, ANY_TAG, 0, 0));
      const { promise, cancel } = this.#core.engine.probe(this.#context, this.#worldOf(source), tag);
      const status = promise.then((envelope) => this.#statusOf(envelope));
      return waitTracked(
        this.#core.activity,
        `probe(source=${showRank(source)}, tag=${showTag(tag)})`,
        status,
        options,
        cancel,
      );
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** The status of a matching message that has arrived, or undefined; never waits. */
  iprobe(source: number = ANY_SOURCE, tag: number = ANY_TAG): Status | undefined {
    this.#checkSource(source, 'iprobe');
    this.#checkTag(tag, 'iprobe', true);
    if (source === PROC_NULL) return new Status().set(PROC_NULL, ANY_TAG, 0, 0);
    const envelope = this.#core.engine.peek(this.#context, this.#worldOf(source), tag);
    return envelope === undefined ? undefined : this.#statusOf(envelope);
  }

  // Collectives ---------------------------------------------------------------------------------------

  /** Waits until every rank of the communicator called barrier. */
  barrier(options: WaitOptions = {}): Promise<void> {
    if (this.#context === WORLD_CONTEXT && this.#core.engine.transport.barrier !== undefined) {
      // The world's ranks are the transport's: its shared-memory barrier, with no messages.
      try {
        checkWaitOptions(options, 'barrier()');
        throwIfAborted(options);
        const passed = this.#core.engine.sharedBarrier();
        if (passed === undefined) return RESOLVED;
        return waitTracked(this.#core.activity, 'barrier()', passed ?? Promise.resolve(), options);
      } catch (error) {
        return Promise.reject(error);
      }
    }
    return this.#collective('barrier()', options, () => collective.barrier(this.#channel));
  }

  /** The root's value, on every rank. Typed arrays travel as raw bytes. */
  bcast<T>(value: T, root = 0, options: WaitOptions = {}): Promise<T> {
    return this.#collective(`bcast(root=${root})`, options, () =>
      collective.bcast(this.#channel, value, collective.checkRoot(root, this.size, 'bcast')),
    );
  }

  /**
   * The root's typed array copied into `buffer` on every other rank (mpi4py's Bcast): no allocation,
   * the bytes land in place. Every rank passes a buffer of the root's type and length.
   * @throws SKEIN_MPI_TRUNCATED or SKEIN_MPI_TYPE_MISMATCH when a rank's buffer does not fit the root's.
   */
  bcastBuffer(buffer: TypedArray, root = 0, options: WaitOptions = {}): Promise<void> {
    return this.#collective(
      `bcastBuffer(root=${root}, ${isTypedArray(buffer) ? buffer.byteLength : 0} B)`,
      options,
      () =>
        collective.bcastInto(
          this.#channel,
          collective.checkTyped(buffer, 'bcastBuffer'),
          collective.checkRoot(root, this.size, 'bcastBuffer'),
        ),
    );
  }

  /** Rank i gets values[i] of the root's array (other ranks pass undefined). */
  scatter<T>(values: readonly T[] | undefined, root = 0, options: WaitOptions = {}): Promise<T> {
    return this.#collective(`scatter(root=${root})`, options, () =>
      collective.scatter(this.#channel, values, collective.checkRoot(root, this.size, 'scatter')),
    );
  }

  /** Every rank's value in rank order at the root; undefined elsewhere. */
  gather<T>(value: T, root = 0, options: WaitOptions = {}): Promise<T[] | undefined> {
    return this.#collective(`gather(root=${root})`, options, () =>
      collective.gather(this.#channel, value, collective.checkRoot(root, this.size, 'gather')),
    );
  }

  /** Every rank's value in rank order, on every rank. */
  allgather<T>(value: T, options: WaitOptions = {}): Promise<T[]> {
    return this.#collective('allgather()', options, () => collective.allgather(this.#channel, value));
  }

  /** values[j] goes to rank j; the result's [i] came from rank i. */
  alltoall<T>(values: readonly T[], options: WaitOptions = {}): Promise<T[]> {
    return this.#collective('alltoall()', options, () => collective.alltoall(this.#channel, values));
  }

  /** The reduction of every rank's value by `op` in rank order, at the root; undefined elsewhere. */
  reduce<T>(value: T, op: Op, root = 0, options: WaitOptions = {}): Promise<T | undefined> {
    return this.#collective(
      `reduce(${opName(op)}, root=${root})`,
      options,
      () =>
        collective.reduce(
          this.#channel,
          value,
          collective.checkOp(op, 'reduce'),
          collective.checkRoot(root, this.size, 'reduce'),
        ) as Promise<T | undefined>,
    );
  }

  /** The reduction of every rank's value, on every rank. Typed arrays reduce element-wise. */
  allreduce<T>(value: T, op: Op, options: WaitOptions = {}): Promise<T> {
    if (
      this.#context === WORLD_CONTEXT &&
      isTypedArray(value) &&
      dtypeOf(value) !== 0 &&
      op instanceof Op &&
      op.elementwise &&
      value.byteLength <= SHARED_ALLREDUCE_MAX_BYTES &&
      this.#core.engine.transport.allreduce !== undefined
    ) {
      const shared = this.#sharedAllreduce(value, op, options);
      if (shared !== null) return shared as Promise<T>;
    }
    return this.#collective(
      `allreduce(${opName(op)})`,
      options,
      () => collective.allreduce(this.#channel, value, collective.checkOp(op, 'allreduce')) as Promise<T>,
    );
  }

  /** Rank i gets the reduction of the values of ranks 0..i. */
  scan<T>(value: T, op: Op, options: WaitOptions = {}): Promise<T> {
    return this.#collective(
      `scan(${opName(op)})`,
      options,
      () => collective.scan(this.#channel, value, collective.checkOp(op, 'scan'), false) as Promise<T>,
    );
  }

  /** Rank i gets the reduction of the values of ranks 0..i-1; rank 0 gets undefined. */
  exscan<T>(value: T, op: Op, options: WaitOptions = {}): Promise<T | undefined> {
    return this.#collective(
      `exscan(${opName(op)})`,
      options,
      () =>
        collective.scan(this.#channel, value, collective.checkOp(op, 'exscan'), true) as Promise<
          T | undefined
        >,
    );
  }

  /** Rank i gets counts[i] elements of the root's typed array (from displs[i], or packed in order). */
  scatterv<B extends TypedArray>(
    buffer: B | undefined,
    counts: readonly number[] | undefined,
    root = 0,
    displs?: readonly number[],
    options: WaitOptions = {},
  ): Promise<B> {
    return this.#collective(`scatterv(root=${root})`, options, async () => {
      collective.checkRoot(root, this.size, 'scatterv');
      const parts =
        this.rank === root
          ? collective.pieces(
              'scatterv',
              collective.checkTyped(buffer, 'scatterv'),
              counts as number[],
              this.size,
              displs,
            )
          : undefined;
      const mine = await collective.scatter(this.#channel, parts, root);
      return (this.rank === root ? mine.slice() : mine) as B;
    });
  }

  /** The root gets every rank's typed array concatenated in rank order, with each one's count. */
  gatherv<B extends TypedArray>(
    buffer: B,
    root = 0,
    options: WaitOptions = {},
  ): Promise<{ data: B; counts: number[] } | undefined> {
    return this.#collective(`gatherv(root=${root})`, options, async () => {
      const parts = await collective.gather(
        this.#channel,
        collective.checkTyped(buffer, 'gatherv'),
        collective.checkRoot(root, this.size, 'gatherv'),
      );
      return parts === undefined
        ? undefined
        : (collective.concat(parts, buffer) as { data: B; counts: number[] });
    });
  }

  /** Every rank gets all typed arrays concatenated in rank order, with each one's count. */
  allgatherv<B extends TypedArray>(
    buffer: B,
    options: WaitOptions = {},
  ): Promise<{ data: B; counts: number[] }> {
    return this.#collective('allgatherv()', options, async () => {
      const parts = await collective.allgather(this.#channel, collective.checkTyped(buffer, 'allgatherv'));
      return collective.concat(parts, buffer) as { data: B; counts: number[] };
    });
  }

  /** sendCounts[j] elements of `buffer` go to rank j; the result is what every rank sent here, in rank order. */
  alltoallv<B extends TypedArray>(
    buffer: B,
    sendCounts: readonly number[],
    sendDispls?: readonly number[],
    options: WaitOptions = {},
  ): Promise<{ data: B; counts: number[] }> {
    return this.#collective('alltoallv()', options, async () => {
      const parts = collective.pieces(
        'alltoallv',
        collective.checkTyped(buffer, 'alltoallv'),
        sendCounts,
        this.size,
        sendDispls,
      );
      const received = await collective.alltoall(this.#channel, parts);
      return collective.concat(received, buffer) as { data: B; counts: number[] };
    });
  }

  // Communicators ------------------------------------------------------------------------------------

  /** A new communicator with the same group and its own contexts (collective). */
  dup(options: WaitOptions = {}): Promise<Communicator> {
    return this.#collective('dup()', options, async () => {
      const context = await this.#agreeContext(this.#core.engine.nextContext);
      return new Communicator(this.#core, context, this.#group);
    });
  }

  /**
   * Splits into one communicator per color, ranked by (key, old rank); a rank with color UNDEFINED gets
   * null. Collective over this communicator.
   * @example const row = await comm.split(Math.floor(comm.rank / 4), comm.rank);
   * @throws SKEIN_MPI_INVALID_ARGUMENT when color is not an integer >= 0 or UNDEFINED, or key not an integer.
   */
  split(color: number, key: number = this.rank, options: WaitOptions = {}): Promise<Communicator | null> {
    if (!Number.isInteger(color) || (color < 0 && color !== UNDEFINED)) {
      return Promise.reject(
        invalid(`split: color must be an integer >= 0 or UNDEFINED (got ${String(color)})`),
      );
    }
    if (!Number.isInteger(key))
      return Promise.reject(invalid(`split: key must be an integer (got ${String(key)})`));
    return this.#collective(`split(color=${color})`, options, async () => {
      const all = await collective.allgather(this.#channel, [color, key, this.#core.engine.nextContext]);
      const context = Math.max(...all.map((entry) => entry[2]!));
      this.#core.engine.nextContext = context + 2;
      if (color === UNDEFINED) return null;
      const members = all
        .map(([c, k], rank) => ({ c, k: k!, rank }))
        .filter((entry) => entry.c === color)
        .sort((a, b) => a.k - b.k || a.rank - b.rank)
        .map((entry) => this.#group[entry.rank]!);
      return new Communicator(this.#core, context, members);
    });
  }

  /**
   * A Cartesian topology over the first product(dims) ranks (the others get null). Collective.
   * @example const cart = await comm.createCart([2, 2], { periods: [true, false] });
   * @throws SKEIN_MPI_INVALID_ARGUMENT when dims are not positive integers or need more ranks than there are.
   */
  async createCart(
    dims: readonly number[],
    options: { readonly periods?: readonly boolean[]; readonly reorder?: boolean } & WaitOptions = {},
  ): Promise<CartComm | null> {
    const topology = new CartTopology(dims, options.periods, this.size);
    const context = await this.#collective('createCart()', options, () =>
      this.#agreeContext(this.#core.engine.nextContext),
    );
    // reorder may keep the order (MPI allows it): rank i of the grid is rank i here.
    if (this.rank >= topology.members) return null;
    return new CartComm(this.#core, context, this.#group.slice(0, topology.members), topology);
  }

  /**
   * A graph topology over the first adjacency.length ranks (the others get null): adjacency[i] lists
   * rank i's neighbours. Collective; every rank passes the same adjacency.
   * @example const ring = await comm.createGraph([[1, 3], [0, 2], [1, 3], [2, 0]]);
   * @throws SKEIN_MPI_INVALID_ARGUMENT for a neighbour out of range, listed twice, or more lists than ranks.
   */
  async createGraph(
    adjacency: readonly (readonly number[])[],
    options: WaitOptions = {},
  ): Promise<GraphComm | null> {
    const topology = new GraphTopology(adjacency, this.size);
    const context = await this.#collective('createGraph()', options, () =>
      this.#agreeContext(this.#core.engine.nextContext),
    );
    if (this.rank >= topology.members) return null;
    return new GraphComm(this.#core, context, this.#group.slice(0, topology.members), topology);
  }

  /** @internal the collective channel, for topology subclasses */
  protected get collectiveChannel(): collective.CollectiveChannel {
    return this.#channel;
  }

  /** @internal */
  protected trackCollective<T>(description: string, options: WaitOptions, run: () => Promise<T>): Promise<T> {
    return this.#collective(description, options, run);
  }

  /** Aborts the whole job: every rank's pending and later operations fail naming this rank and error. */
  abort(error: unknown = new Error(`rank ${this.#core.engine.rank} called abort()`)): void {
    this.#core.abort(error instanceof Error ? error : new Error(String(error)));
  }

  // Internals -----------------------------------------------------------------------------------------

  /**
   * allreduce of a small typed array through the transport's shared memory (world communicator, thread
   * ranks): the same recursive doubling and operand order as the message path, with no messages. Null
   * when the transport cannot take it (a job size that is not a power of two).
   */
  #sharedAllreduce(value: TypedArray, op: Op, options: WaitOptions): Promise<TypedArray> | null {
    const description = `allreduce(${opName(op)})`;
    try {
      checkWaitOptions(options, description);
      throwIfAborted(options);
      const acc = value.slice();
      const bytes = bytesOf(acc);
      const combine = (theirs: Uint8Array, theirDtype: number, theirsFirst: boolean): void => {
        const other = typedFromBytes(theirDtype, theirs);
        if (theirsFirst) op.applyInto(other, acc, acc);
        else op.applyInto(acc, other, acc);
      };
      const done = this.#core.engine.sharedAllreduce(bytes, dtypeOf(acc), combine);
      if (done === null) return null;
      if (done === undefined) return Promise.resolve(acc);
      return waitTracked(
        this.#core.activity,
        description,
        done.then(() => acc),
        options,
      );
    } catch (error) {
      return Promise.reject(error);
    }
  }

  async #agreeContext(proposal: number): Promise<number> {
    const context = (await collective.allreduce(this.#channel, proposal, MAX_OP)) as number;
    this.#core.engine.nextContext = context + 2;
    return context;
  }

  #collective<T>(description: string, options: WaitOptions, run: () => Promise<T>): Promise<T> {
    try {
      checkWaitOptions(options, description);
      throwIfAborted(options);
      return waitTracked(this.#core.activity, description, run(), options);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #send(context: number, value: unknown, dest: number, tag: number, blocking = false): Promise<void> {
    return this.#sendNow(context, value, dest, tag, blocking) ?? Promise.resolve();
  }

  /** Sends; undefined when the payload was copied out at once (Engine.send). */
  #sendNow(
    context: number,
    value: unknown,
    dest: number,
    tag: number,
    blocking: boolean,
  ): Promise<void> | undefined {
    // A typed array is its own payload: no Packed object made for it.
    if (isTypedArray(value))
      return this.#core.engine.send(
        this.#group[dest]!,
        context,
        tag,
        bytesOf(value),
        dtypeOf(value),
        blocking,
      );
    const { bytes, dtype, scratch } = pack(value);
    return this.#core.engine.send(this.#group[dest]!, context, tag, bytes, dtype, blocking, scratch);
  }

  #receive(
    context: number,
    source: number,
    tag: number,
    into: TypedArray | null,
    onCancel?: (cancel: () => boolean) => void,
  ): Promise<Received> {
    const pending = this.#post(
      context,
      source,
      tag,
      into === null ? null : bytesOf(into),
      into === null ? 0 : dtypeOf(into),
    );
    if (pending.matched === null && pending.failed === null) onCancel?.(() => pending.cancel());
    return pending.received();
  }

  /**
   * Posts a receive. Its `matched` is the message when one matched during the call (already there, or
   * arrived within the engine's sync wait); else `failed`, or promise() for the message to come.
   */
  #post(
    context: number,
    source: number,
    tag: number,
    into: Uint8Array | null,
    intoDtype: number,
  ): PendingReceive {
    const pending = new PendingReceive(
      this.#core.engine,
      context,
      this.#worldOf(source),
      tag,
      into,
      intoDtype,
    );
    this.#core.engine.receive(pending);
    return pending;
  }

  #worldOf(source: number): number {
    return source === ANY_SOURCE ? ANY_SOURCE : this.#group[source]!;
  }

  #statusOf(envelope: Envelope): Status {
    return new Status().set(
      this.#local.get(envelope.source) ?? envelope.source,
      envelope.tag,
      envelope.size,
      envelope.dtype,
    );
  }

  /** The communicator rank of world rank `source` (itself when not a member, which matching rules out). */
  #localOf(source: number): number {
    const local = this.#localByWorld[source] ?? -1;
    return local < 0 ? source : local;
  }

  #fill(status: Status | undefined, message: Received): Status | undefined {
    return status?.set(this.#localOf(message.source), message.tag, message.size, message.dtype);
  }

  /** Checks a buffer message against `buffer` (its dtype and bytes given when known) and copies it in. */
  #into(
    buffer: TypedArray,
    message: Received,
    dtype = dtypeOf(buffer),
    target: Uint8Array = bytesOf(buffer),
  ): Status {
    const status = this.#fill(new Status(), message)!;
    if (message.dtype !== dtype) {
      throw new SkeinError(
        'SKEIN_MPI_TYPE_MISMATCH',
        `recvBuffer into a ${buffer.constructor.name} matched a ${message.dtype === 0 ? 'value message (sent with send of a non-typed-array)' : dtypeName(message.dtype)} from rank ${status.source} tag ${status.tag}; receive it with recv, or pass a buffer of the sent type`,
      );
    }
    if (message.payload.length > buffer.byteLength) {
      throw new SkeinError(
        'SKEIN_MPI_TRUNCATED',
        `a ${message.payload.length}-byte message from rank ${status.source} tag ${status.tag} does not fit the ${buffer.byteLength}-byte receive buffer; pass a larger buffer (probe gives the size first)`,
      );
    }
    // Delivered straight into the buffer (the usual case) when it is the target itself: no look at the
    // two .buffer getters, each a call into the runtime (~40 ns here).
    const payload = message.payload;
    if (payload !== target && (payload.buffer !== target.buffer || payload.byteOffset !== target.byteOffset))
      target.set(payload);
    return status;
  }

  #checkDest(dest: unknown, what: string): void {
    if (dest === PROC_NULL) return;
    if (!Number.isInteger(dest) || (dest as number) < 0 || (dest as number) >= this.size) {
      throw invalid(`${what}: dest must be a rank in 0..${this.size - 1} or PROC_NULL (got ${String(dest)})`);
    }
  }

  #checkSource(source: unknown, what: string): void {
    if (source === ANY_SOURCE || source === PROC_NULL) return;
    if (!Number.isInteger(source) || (source as number) < 0 || (source as number) >= this.size) {
      throw invalid(
        `${what}: source must be a rank in 0..${this.size - 1}, ANY_SOURCE or PROC_NULL (got ${String(source)})`,
      );
    }
  }

  #checkTag(tag: unknown, what: string, wildcard = false): void {
    if (wildcard && tag === ANY_TAG) return;
    if (!Number.isInteger(tag) || (tag as number) < 0 || (tag as number) > TAG_UB) {
      throw invalid(
        `${what}: tag must be an integer in 0..${TAG_UB}${wildcard ? ' or ANY_TAG' : ''} (got ${String(tag)})`,
      );
    }
  }
}

/**
 * A receive posted to the engine (PostedReceive) that keeps a message matched during the post itself,
 * so a receive answered at once costs no promise and no closures; promise() waits for a later one.
 */
class PendingReceive implements PostedReceive {
  readonly context: number;
  readonly source: number;
  readonly tag: number;
  readonly into: Uint8Array | null;
  readonly intoDtype: number;
  matched: Received | null = null;
  failed: Error | null = null;
  readonly #engine: Engine;
  #settle: ((message: Received) => void) | null = null;
  #fail: ((error: Error) => void) | null = null;

  constructor(
    engine: Engine,
    context: number,
    source: number,
    tag: number,
    into: Uint8Array | null,
    intoDtype: number,
  ) {
    this.#engine = engine;
    this.context = context;
    this.source = source;
    this.tag = tag;
    this.into = into;
    this.intoDtype = intoDtype;
  }

  resolve(message: Received): void {
    if (this.#settle === null) this.matched = message;
    else this.#settle(message);
  }

  reject(error: Error): void {
    if (this.#fail === null) this.failed = error;
    else this.#fail(error);
  }

  /** Takes the receive back while nothing matched it: whether it was still posted. */
  cancel(): boolean {
    return this.#engine.withdraw(this);
  }

  /** The message to come; call only while neither matched nor failed. */
  promise(): Promise<Received> {
    return new Promise<Received>((resolve, reject) => {
      this.#settle = resolve;
      this.#fail = reject;
    });
  }

  /** The message however it comes: now, failed, or later. */
  received(): Promise<Received> {
    if (this.matched !== null) return Promise.resolve(this.matched);
    if (this.failed !== null) return Promise.reject(this.failed);
    return this.promise();
  }
}

function collectiveTypedError(what: string, value: unknown): InvalidArgumentError {
  return invalid(
    `${what} needs a typed array such as Float64Array (got ${value === null ? 'null' : typeof value}); use send/recv for other values`,
  );
}

function opName(op: Op): string {
  return (op as { name?: string } | null)?.name ?? String(op);
}

function showRank(rank: number): string {
  return rank === ANY_SOURCE ? 'ANY_SOURCE' : String(rank);
}

function showTag(tag: number): string {
  return tag === ANY_TAG ? 'ANY_TAG' : String(tag);
}

function sizeNote(value: unknown): string {
  return isTypedArray(value) ? `, ${value.byteLength} B` : '';
}

/**
 * A communicator with a Cartesian grid: coordinates of ranks, ranks of coordinates, and shifts to
 * neighbours (PROC_NULL beyond a non-periodic edge).
 */
export class CartComm extends Communicator {
  readonly #topology: CartTopology;

  /** @internal made by createCart */
  constructor(core: RankCore, context: number, group: readonly number[], topology: CartTopology) {
    super(core, context, group);
    this.#topology = topology;
  }

  get dims(): readonly number[] {
    return this.#topology.dims;
  }

  get periods(): readonly boolean[] {
    return this.#topology.periods;
  }

  /** This rank's coordinates. */
  get coordinates(): number[] {
    return this.#topology.coords(this.rank);
  }

  /** The coordinates of `rank`. */
  coords(rank: number): number[] {
    return this.#topology.coords(rank);
  }

  /** The rank at `coords` (wrapped along periodic dimensions); PROC_NULL outside a non-periodic one. */
  rankOf(coords: readonly number[]): number {
    return this.#topology.rankOf(coords);
  }

  /** The ranks to receive from and send to when shifting by `displacement` along `direction`. */
  shift(direction: number, displacement = 1): CartShift {
    return this.#topology.shift(this.rank, direction, displacement);
  }
}

/** A communicator with a graph topology: each rank's neighbours, and collectives among neighbours. */
export class GraphComm extends Communicator {
  readonly #topology: GraphTopology;

  /** @internal made by createGraph */
  constructor(core: RankCore, context: number, group: readonly number[], topology: GraphTopology) {
    super(core, context, group);
    this.#topology = topology;
  }

  /** The neighbours of `rank` (this rank by default), in the order the adjacency lists them. */
  neighbors(rank: number = this.rank): readonly number[] {
    return this.#topology.neighbours(rank);
  }

  /**
   * Every neighbour's value, in this rank's neighbour order (MPI_Neighbor_allgather).
   * @throws SKEIN_MPI_INVALID_ARGUMENT when the graph is not symmetric.
   */
  neighborAllgather<T>(value: T, options: WaitOptions = {}): Promise<T[]> {
    if (!this.#topology.symmetric) {
      return Promise.reject(
        invalid('neighborAllgather needs a symmetric graph (j a neighbour of i exactly when i is one of j)'),
      );
    }
    return this.trackCollective('neighborAllgather()', options, async () => {
      const channel = this.collectiveChannel;
      const neighbours = this.neighbors();
      const [, values] = await Promise.all([
        Promise.all(neighbours.map((n) => channel.send(value, n, collective.CollectiveTag.NEIGHBOR))),
        Promise.all(neighbours.map((n) => channel.recv(n, collective.CollectiveTag.NEIGHBOR) as Promise<T>)),
      ]);
      return values;
    });
  }
}
