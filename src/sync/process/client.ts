// This thread as a client of hubs: its session (the identity the hubs record as owner of what it holds)
// and one shared connection per hub. Invariant: every connection a thread opens, its blocking helper's
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
    connections.set(path, connection);
  }
  return connection;
}

/** The connection to `path` if this thread opened one. */
export function existingConnectionTo(path: string): HubConnection | undefined {
  return connections.get(path);
}
