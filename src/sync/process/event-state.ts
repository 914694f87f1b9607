// The hub's state machine for ProcessEvent: a flag and the calls waiting for it. set() answers every
// waiter at once, so a waiter that was waiting when set() ran returns even if clear() follows at once
// (as Python's Event and the thread Event do).

import { type Call, registerServerKind, type ServerObject } from './server-object.ts';
import { unknownOp } from './state-kit.ts';

/** Ops: set, clear → undefined; isSet → boolean; wait → undefined once set. */
export class EventState implements ServerObject {
  #flag = false;
  readonly #waiters = new Set<Call>();

  start(call: Call): void {
    switch (call.op) {
      case 'set': {
        this.#flag = true;
        const waiters = [...this.#waiters];
        this.#waiters.clear();
        for (const waiter of waiters) waiter.resolve(undefined);
        call.resolve(undefined);
        return;
      }
      case 'clear':
        this.#flag = false;
        call.resolve(undefined);
        return;
      case 'isSet':
        call.resolve(this.#flag);
        return;
      case 'wait':
        if (this.#flag) {
          call.resolve(undefined);
          return;
        }
        this.#waiters.add(call);
        return;
      default:
        throw unknownOp('ProcessEvent', call.op);
    }
  }

  stop(call: Call): boolean {
    this.#waiters.delete(call);
    return false;
  }

  describeWait(): string {
    return ' (the event was not set)';
  }
}

registerServerKind('ProcessEvent', () => new EventState());
