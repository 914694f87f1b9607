// The hub's state machine for ProcessQueue: encoded items in their order, FIFO lists of waiting puts
// and gets, the unfinished-task count and join waiters. Invariant: an item handed to a get stays in
// flight until its delivery is confirmed (the client's ACK; see served-connection.ts) and goes back to
// the front if it is not, so no item is lost; a closed queue counts as drained only with none in flight.

import { ChannelClosedError, InvalidArgumentError, SkeinError } from '../../errors.ts';
import { InsertionOrderSet } from '../../insertion-order-map.ts';
import { type Call, registerServerKind, type ServerObject } from '../../sync/process/server-object.ts';
import { unknownOp } from '../../sync/process/state-kit.ts';
import { Deque, Heap, type ItemStore, Stack } from './item-store.ts';

export type QueueOrderName = 'fifo' | 'lifo' | 'priority';

/** What 'info' resolves with. */
export interface QueueInfo {
  readonly size: number;
  readonly closed: boolean;
  readonly unfinished: number;
}

/**
 * Ops: put [bytes, priority] → undefined; get → bytes; taskDone, join, close → undefined; info → QueueInfo.
 */
export class QueueState implements ServerObject {
  readonly #kind: string;
  readonly #store: ItemStore;
  readonly #capacity: number;
  readonly #putters = new InsertionOrderSet<Call>();
  readonly #getters = new InsertionOrderSet<Call>();
  readonly #joiners = new Set<Call>();
  #closed = false;
  #unfinished = 0;
  #seq = 0;
  /** Items handed to gets whose delivery is not confirmed yet: they may still come back. */
  #inFlight = 0;

  constructor(kind: string, order: QueueOrderName, capacity: number) {
    this.#kind = kind;
    this.#capacity = capacity;
    this.#store = order === 'lifo' ? new Stack() : order === 'priority' ? new Heap() : new Deque();
  }

  start(call: Call): void {
    switch (call.op) {
      case 'put':
        if (this.#closed) throw this.#closedForPut();
        this.#putters.add(call);
        this.#pump();
        return;
      case 'get':
        this.#getters.add(call);
        this.#pump();
        return;
      case 'taskDone':
        if (this.#unfinished <= 0) {
          throw new InvalidArgumentError(
            'SKEIN_CHANNEL_INVALID_ARGUMENT',
            `${this.#kind}.taskDone() called more times than items were put; call it once per item taken with get()`,
          );
        }
        this.#unfinished--;
        call.resolve(undefined);
        if (this.#unfinished === 0) settleAll(this.#joiners);
        return;
      case 'join':
        if (this.#unfinished === 0) call.resolve(undefined);
        else this.#joiners.add(call);
        return;
      case 'close':
        call.resolve(undefined);
        this.#close();
        return;
      case 'info':
        call.resolve({
          size: this.#store.size,
          closed: this.#closed,
          unfinished: this.#unfinished,
        } satisfies QueueInfo);
        return;
      default:
        throw unknownOp(this.#kind, call.op);
    }
  }

  /** Moves items until nothing more can move: waiting puts into free room, items to waiting gets. */
  #pump(): void {
    const store = this.#store;
    for (;;) {
      let moved = false;
      for (
        let put = this.#putters.oldest();
        put !== undefined && store.size < this.#capacity;
        put = this.#putters.oldest()
      ) {
        this.#putters.delete(put);
        store.push({ bytes: put.args[0] as Uint8Array, priority: put.args[1] as number, seq: this.#seq++ });
        this.#unfinished++;
        put.resolve(undefined);
        moved = true;
      }
      for (
        let get = this.#getters.oldest();
        get !== undefined && store.size > 0;
        get = this.#getters.oldest()
      ) {
        this.#getters.delete(get);
        const item = store.take();
        this.#inFlight++;
        get.resolve(item.bytes, {
          delivered: () => {
            this.#inFlight--;
            this.#failGetsIfDrained();
          },
          givenBack: () => {
            this.#inFlight--;
            this.#store.giveBack(item);
            this.#pump();
          },
        });
        moved = true;
      }
      if (!moved) break;
    }
    this.#failGetsIfDrained();
  }

  /** Closed, empty, and nothing in flight that could come back: waiting gets fail. */
  #failGetsIfDrained(): void {
    if (!this.#closed || this.#store.size > 0 || this.#inFlight > 0 || this.#getters.size === 0) return;
    const getters = [...this.#getters];
    this.#getters.clear();
    for (const get of getters) get.reject(this.#closedForGet());
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const putters = [...this.#putters];
    this.#putters.clear();
    for (const put of putters) put.reject(this.#closedForPut());
    this.#pump();
  }

  stop(call: Call): boolean {
    this.#putters.delete(call) || this.#getters.delete(call) || this.#joiners.delete(call);
    return false;
  }

  describeWait(call: Call): string {
    if (call.op === 'put') return ` (the queue stayed full: ${this.#store.size} items)`;
    if (call.op === 'get') return ' (the queue stayed empty)';
    return ` (${this.#unfinished} items not marked with taskDone())`;
  }

  #closedForPut(): ChannelClosedError {
    return new ChannelClosedError(`${this.#kind} is closed; no more puts (make a new queue to send more)`);
  }

  #closedForGet(): ChannelClosedError {
    return new ChannelClosedError(`${this.#kind} is closed and drained; every item put was taken`);
  }
}

function settleAll(calls: Set<Call>): void {
  const all = [...calls];
  calls.clear();
  for (const call of all) call.resolve(undefined);
}

export function checkOrder(order: unknown): QueueOrderName {
  if (order === 'fifo' || order === 'lifo' || order === 'priority') return order;
  throw new SkeinError('SKEIN_INTERNAL', `unknown queue order ${String(order)}; this is a bug in Skein`);
}

registerServerKind(
  'ProcessQueue',
  (params) => new QueueState('ProcessQueue', checkOrder(params[0]), params[1] as number),
);
