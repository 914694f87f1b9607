// How a process-shared object reaches its state: directly when this thread runs its hub (LocalEndpoint),
// over this thread's connection or its blocking helper otherwise (RemoteEndpoint). The public classes
// see one interface, so each is written once. Invariant: a blocking call never waits on the hub's own
// thread, since nothing could answer it there; it fails with SKEIN_SYNC_WOULD_DEADLOCK instead.

import { addAbortListener } from 'node:events';
import { abortErrorFrom, InvalidArgumentError, SkeinError } from '../../errors.ts';
import { HANDLE_KIND, type SharedHandle } from '../shared.ts';
import { remainingMs, type WaitPlan } from '../wait.ts';
import { callBlocking } from './blocking-client.ts';
import { connectionTo, existingConnectionTo, heldCount, setHeldCount } from './client.ts';
import type { GiveBack } from './connection.ts';
import { type Hub, hubOfThisThread, startHub } from './hub.ts';

export interface CallOptions {
  /** Sent when a grant races an abort, to undo it (a release); see HubConnection. */
  readonly giveBack?: GiveBack;
  /** On abort, settle with the hub's verdict rather than at once (effects that cannot be undone). */
  readonly settleOnHub?: boolean;
}

/** What every Process* class calls. `what` names the method for messages ("ProcessLock.acquire"). */
export interface Endpoint {
  readonly path: string;
  readonly id: number;
  /** True when this thread runs the object's hub. */
  readonly local: boolean;
  /** The async form: never blocks the event loop. */
  call(
    op: string,
    args: readonly unknown[],
    plan: WaitPlan,
    what: string,
    options?: CallOptions,
  ): Promise<unknown>;
  /** The blocking form: blocks this thread until the hub answers. */
  callSync(
    op: string,
    args: readonly unknown[],
    plan: WaitPlan,
    what: string,
    options?: CallOptions,
  ): unknown;
  /** No answer wanted and nothing can fail (a release the caller checked it may make). */
  post(op: string, args: readonly unknown[]): void;
  /** How many times this thread holds the object, as far as this thread knows (remote locks). */
  held: number;
  /** Throws SKEIN_SYNC_DISCONNECTED when this thread already knows the hub is gone. */
  checkConnected(): void;
}

const NOW: WaitPlan = Object.freeze({ deadline: 0, timeout: 0, signal: undefined });
/** A plan for calls that never wait (queries, releases). */
export const NO_WAIT: WaitPlan = NOW;

class LocalEndpoint implements Endpoint {
  readonly local = true;
  readonly #hub: Hub;
  readonly path: string;
  readonly id: number;
  held = 0;

  constructor(hub: Hub, id: number) {
    this.#hub = hub;
    this.path = hub.path;
    this.id = id;
  }

  call(op: string, args: readonly unknown[], plan: WaitPlan): Promise<unknown> {
    const call = this.#hub.localCall(this.id, op, args, remainingMs(plan));
    this.#hub.run(call);
    const signal = plan.signal;
    if (call.settled || signal === undefined) return call.promise;
    const listener = addAbortListener(signal, () => {
      call.abortError = abortErrorFrom(signal);
      this.#hub.cancel(call, call.abortError as SkeinError);
    });
    const promise = call.promise;
    promise.then(
      () => listener[Symbol.dispose](),
      () => listener[Symbol.dispose](),
    );
    return promise;
  }

  callSync(op: string, args: readonly unknown[], plan: WaitPlan, what: string): unknown {
    const call = this.#hub.localCall(this.id, op, args, plan.timeout === 0 ? 0 : Infinity);
    this.#hub.run(call);
    if (!call.settled) {
      this.#hub.retract(call);
      throw new SkeinError(
        'SKEIN_SYNC_WOULD_DEADLOCK',
        `${what}() would have to wait, but this thread runs the hub that serves it, so nothing could answer while it blocks; use the async form (${what}Async) on this thread, or the blocking form from another thread or process`,
      );
    }
    const outcome = call.outcome;
    if (outcome === undefined)
      throw new SkeinError('SKEIN_INTERNAL', `${what} settled without an outcome; this is a bug in Skein`);
    if (!outcome.ok) throw outcome.error;
    return outcome.value;
  }

  post(op: string, args: readonly unknown[]): void {
    this.callSync(op, args, NOW, op);
  }

  checkConnected(): void {}
}

class RemoteEndpoint implements Endpoint {
  readonly local = false;
  readonly path: string;
  readonly id: number;

  constructor(path: string, id: number) {
    this.path = path;
    this.id = id;
  }

  get held(): number {
    return heldCount(this.path, this.id);
  }

  set held(count: number) {
    setHeldCount(this.path, this.id, count);
  }

  call(
    op: string,
    args: readonly unknown[],
    plan: WaitPlan,
    _what: string,
    options?: CallOptions,
  ): Promise<unknown> {
    return connectionTo(this.path).request(this.id, op, args, remainingMs(plan), {
      signal: plan.signal,
      giveBack: options?.giveBack,
      settleOnHub: options?.settleOnHub,
    });
  }

  callSync(
    op: string,
    args: readonly unknown[],
    plan: WaitPlan,
    _what: string,
    options?: CallOptions,
  ): unknown {
    return callBlocking(this.path, this.id, op, args, remainingMs(plan), options?.giveBack);
  }

  post(op: string, args: readonly unknown[]): void {
    // A connected socket writes at once, so the request leaves before anything this thread does next.
    // Otherwise (this thread only used blocking forms) it is a blocking call: that also tells at once
    // whether the hub is still there.
    const connection = existingConnectionTo(this.path);
    if (connection !== undefined && (connection.ready || connection.lost)) connection.post(this.id, op, args);
    else callBlocking(this.path, this.id, op, args, 0);
  }

  checkConnected(): void {
    existingConnectionTo(this.path)?.checkConnected();
  }
}

const endpointsOfObjects = new WeakMap<object, Endpoint>();

/** Records the endpoint of a Process* object, for another class that works with it (a condition's lock). */
export function bindEndpoint(object: object, endpoint: Endpoint): void {
  endpointsOfObjects.set(object, endpoint);
}

/** The endpoint a Process* object was bound to, or undefined for anything else. */
export function endpointOfObject(object: unknown): Endpoint | undefined {
  return typeof object === 'object' && object !== null ? endpointsOfObjects.get(object) : undefined;
}

/** Creates an object of `kind` in this thread's hub (starting it) and returns its endpoint. */
export function createShared(kind: string, params: readonly unknown[]): Endpoint {
  const hub = startHub();
  return new LocalEndpoint(hub, hub.create(kind, params));
}

/** The endpoint a handle describes, local when this thread runs its hub. */
export function endpointOf(handle: SharedHandle): Endpoint {
  const { path, id } = handle;
  if (typeof path !== 'string' || typeof id !== 'number' || !Number.isInteger(id) || id < 1) {
    throw new InvalidArgumentError(
      'SKEIN_SYNC_INVALID_ARGUMENT',
      `A ${String(handle[HANDLE_KIND])} handle needs a socket path and an object id; pass what toHandle() returned, unchanged`,
    );
  }
  const hub = hubOfThisThread();
  if (hub !== undefined && hub.path === path) {
    if (hub.entry(id) === undefined) {
      throw new InvalidArgumentError(
        'SKEIN_SYNC_INVALID_ARGUMENT',
        `This thread's hub has no object ${id}; pass what toHandle() returned, unchanged`,
      );
    }
    return new LocalEndpoint(hub, id);
  }
  return new RemoteEndpoint(path, id);
}

/** The handle fields every process-scoped object carries. */
export function handleOf(
  kind: string,
  module: string,
  endpoint: Endpoint,
  extra: Record<string, unknown> = {},
): SharedHandle {
  return { [HANDLE_KIND]: kind, module, scope: 'process', path: endpoint.path, id: endpoint.id, ...extra };
}
