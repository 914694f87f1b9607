// The caller's side of an actor: a Proxy whose every property is a method that calls into the worker.
// It is deliberately not thenable, so `await pool.actor(…)` yields the proxy itself.

import type { ActorProxy } from './executor.ts';

export interface ActorChannel {
  call(method: string, args: unknown[]): Promise<unknown>;
  release(): Promise<void>;
}

export function createActorProxy<T>(channel: ActorChannel, className: string): ActorProxy<T> {
  const methods = new Map<string, (...args: unknown[]) => Promise<unknown>>();
  const release = () => channel.release();
  return new Proxy(Object.create(null) as object, {
    get(_target, property) {
      if (property === Symbol.asyncDispose) return release;
      if (property === Symbol.toStringTag) return `Actor ${className}`;
      if (typeof property === 'symbol' || property === 'then') return undefined;
      let method = methods.get(property);
      if (method === undefined) {
        method = (...args: unknown[]) => channel.call(property, args);
        methods.set(property, method);
      }
      return method;
    },
    has(_target, property) {
      return property === Symbol.asyncDispose || typeof property === 'string';
    },
  }) as ActorProxy<T>;
}
