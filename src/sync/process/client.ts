// This thread as a client of hubs: its session (the identity the hubs record as owner of what it holds),
// one shared connection per hub, and its own count of the remote locks it holds. Invariant: every connection a thread opens, its blocking helper's
// included, names the same session, so a hub sees one owner per thread whichever path a call took.

import { randomUUID } from 'node:crypto';
import { threadId } from 'node:worker_threads';
import { HubConnection } from './connection.ts';
import type { Hello } from './frames.ts';

let session: Hello = Object.freeze({
  session: `${process.pid}:${threadId}:${randomUUID()}`,
  pid: process.pid,
  threadId,
});

const connections = new Map<string, HubConnection>();
/** How many times this thread holds each remote lock, by hub path and then object id. */
const held = new Map<string, Map<number, number>>();

/** The session this thread's connections announce. */
export function sessionOfThisThread(): Hello {
  return session;
}

/** Makes this thread speak for another one: the blocking helper calls it with its parent's session. */
export function adoptSession(hello: Hello): void {
  session = hello;
}

/** This thread's connection to the hub at `path`, opened on first use and kept (lost stays lost). */
export function connectionTo(path: string): HubConnection {
  let connection = connections.get(path);
  if (connection === undefined) {
    connection = new HubConnection(path, session);
    // What a thread held in a hub that is gone, it holds no more (and release() then says why).
    connection.onLost(() => held.delete(path));
    connections.set(path, connection);
  }
  return connection;
}

/** How many times this thread holds object `id` of the hub at `path`, by its own count. */
export function heldCount(path: string, id: number): number {
  return held.get(path)?.get(id) ?? 0;
}

export function setHeldCount(path: string, id: number, count: number): void {
  let ofHub = held.get(path);
  if (count === 0) {
    ofHub?.delete(id);
    return;
  }
  if (ofHub === undefined) {
    ofHub = new Map();
    held.set(path, ofHub);
  }
  ofHub.set(id, count);
}

/** The connection to `path` if this thread opened one. */
export function existingConnectionTo(path: string): HubConnection | undefined {
  return connections.get(path);
}
