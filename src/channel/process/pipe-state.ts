// The hub's state machine for ProcessPipe: two ends, and per direction a FIFO of encoded values with the
// calls waiting to receive them (one-way pipes use one direction: end 0 sends, end 1 receives).
// Invariant: as in queue-state.ts, a value handed to a recv stays in flight until its delivery is
// confirmed and goes back to the front if it is not. Sends never wait: a pipe holds what is sent.

import { ChannelClosedError } from '../../errors.ts';
import { InsertionOrderSet } from '../../insertion-order-map.ts';
import {
  type Call,
  registerServerKind,
  type ServerObject,
  type StopReason,
} from '../../sync/process/server-object.ts';
import { unknownOp } from '../../sync/process/state-kit.ts';
import { Deque } from './item-store.ts';

interface Direction {
  readonly values: Deque;
  readonly receivers: InsertionOrderSet<Call>;
  readonly pollers: Set<Call>;
  /** Values handed to receivers whose delivery is not confirmed yet: they may still come back. */
  inFlight: number;
}

/**
 * Ops (args start with the end, 0 or 1): send [end, bytes]; recv [end] → bytes; poll [end] → boolean
 * (false when its timeout passes); close [end]; closed [end] → boolean.
 */
export class PipeState implements ServerObject {
  readonly #duplex: boolean;
  readonly #closed = [false, false];
  readonly #directions: readonly Direction[];
  #seq = 0;

  constructor(duplex: boolean) {
    this.#duplex = duplex;
    const direction = (): Direction => ({
      values: new Deque(),
      receivers: new InsertionOrderSet(),
      pollers: new Set(),
      inFlight: 0,
    });
    this.#directions = duplex ? [direction(), direction()] : [direction()];
  }

  /** The direction `end` sends on: two-way, end e sends on direction e; one-way, end 0 on direction 0. */
  #outOf(end: number): Direction {
    return this.#directions[this.#duplex ? end : 0] as Direction;
  }

  /** The direction `end` receives from. */
  #inOf(end: number): Direction {
    return this.#directions[this.#duplex ? 1 - end : 0] as Direction;
  }

  start(call: Call): void {
    const end = call.args[0] as number;
    switch (call.op) {
      case 'send': {
        if (this.#closed[end] === true) throw closed('this end is closed');
        if (this.#closed[1 - end] === true) throw closed('the other end is closed');
        const out = this.#outOf(end);
        out.values.push({ bytes: call.args[1] as Uint8Array, priority: 0, seq: this.#seq++ });
        call.resolve(undefined);
        this.#pump(out, 1 - end);
        return;
      }
      case 'recv': {
        if (this.#closed[end] === true) throw closed('this end is closed');
        const input = this.#inOf(end);
        input.receivers.add(call);
        this.#pump(input, end);
        return;
      }
      case 'poll': {
        if (this.#closed[end] === true) throw closed('this end is closed');
        const input = this.#inOf(end);
        if (input.values.size > 0 || this.#closed[1 - end] === true) call.resolve(true);
        else input.pollers.add(call);
        return;
      }
      case 'close':
        call.resolve(undefined);
        this.#close(end);
        return;
      case 'closed':
        call.resolve(this.#closed[end] === true);
        return;
      default:
        throw unknownOp('ProcessConnection', call.op);
    }
  }

  /** Hands values to the waiting receivers of `receiver` (the end reading `direction`). */
  #pump(direction: Direction, receiver: number): void {
    if (direction.pollers.size > 0 && (direction.values.size > 0 || this.#closed[1 - receiver] === true)) {
      const pollers = [...direction.pollers];
      direction.pollers.clear();
      for (const poll of pollers) poll.resolve(true);
    }
    for (
      let recv = direction.receivers.oldest();
      recv !== undefined && direction.values.size > 0;
      recv = direction.receivers.oldest()
    ) {
      direction.receivers.delete(recv);
      const item = direction.values.take();
      direction.inFlight++;
      recv.resolve(item.bytes, {
        delivered: () => {
          direction.inFlight--;
          this.#failRecvsIfDrained(direction, receiver);
        },
        givenBack: () => {
          direction.inFlight--;
          direction.values.giveBack(item);
          this.#pump(direction, receiver);
        },
      });
    }
    this.#failRecvsIfDrained(direction, receiver);
  }

  /** Nothing left to receive in `direction`, nor in flight, and an end is closed: waiting recvs fail. */
  #failRecvsIfDrained(direction: Direction, receiver: number): void {
    if (direction.receivers.size === 0 || direction.values.size > 0 || direction.inFlight > 0) return;
    const closedHere = this.#closed[receiver] === true;
    if (!closedHere && this.#closed[1 - receiver] !== true) return;
    const receivers = [...direction.receivers];
    direction.receivers.clear();
    const why = closedHere
      ? 'this end is closed'
      : 'the other end is closed and everything it sent was received';
    for (const recv of receivers) recv.reject(closed(why));
  }

  #close(end: number): void {
    if (this.#closed[end] === true) return;
    this.#closed[end] = true;
    const other = 1 - end;
    if (this.#duplex || end === 1) {
      const input = this.#inOf(end);
      for (const poll of [...input.pollers]) poll.reject(closed('this end is closed'));
      input.pollers.clear();
      this.#pump(input, end);
    }
    if (this.#duplex || end === 0) this.#pump(this.#outOf(end), other);
  }

  stop(call: Call, why: StopReason): boolean {
    const input = this.#inOf(call.args[0] as number);
    input.receivers.delete(call);
    if (input.pollers.delete(call) && why === 'timeout') {
      call.resolve(false);
      return true;
    }
    return false;
  }

  describeWait(): string {
    return ' (nothing was sent)';
  }
}

function closed(why: string): ChannelClosedError {
  return new ChannelClosedError(`The pipe is closed: ${why}`);
}

registerServerKind('ProcessPipe', (params) => new PipeState(params[0] === true));
