// Remote objects in a chain topology (the Pyro4 "chain" example): three objects, each in a worker
// process of its own, pass a message along A -> B -> C; each adds its name and process id. Here the
// objects are actors on a ProcessPool and the links are ProcessQueues. The chain runs across pool
// workers on this machine: Skein's cloud runs tasks and functions on agents, not actors.
//   node examples/distributed/actor-chain.ts

import { ProcessQueue } from '../../src/channel/index.ts';
import { actor } from '../../src/index.ts';
import { ProcessPool } from '../../src/pool/index.ts';

interface Message {
  readonly text: string;
  readonly path: string[];
}

export const Link = actor(
  import.meta,
  class Link {
    readonly name: string;
    constructor(name: string) {
      this.name = name;
    }
    /** Forwards every message from its inbox to its outbox; closes the outbox when the inbox ends. */
    async relay(inbox: ProcessQueue<Message>, outbox: ProcessQueue<Message>): Promise<number> {
      let forwarded = 0;
      for await (const message of inbox) {
        await outbox.putAsync({ text: message.text, path: [...message.path, `${this.name}@${process.pid}`] });
        forwarded++;
      }
      outbox.close();
      return forwarded;
    }
  },
);

async function main(): Promise<void> {
  const names = ['A', 'B', 'C'];
  // One process per object: the pool puts a new actor on the worker holding the fewest (starting one
  // while below maxWorkers). Created one after the other so each sees where the last one went.
  await using pool = new ProcessPool({ maxWorkers: names.length });
  const links = [...names, 'out'].map(() => new ProcessQueue<Message>({ capacity: 8 }));
  const actors = [];
  for (const name of names) actors.push(await pool.actor(Link, name));
  try {
    const relays = actors.map((a, i) => a.relay(links[i]!, links[i + 1]!));
    for (const text of ['first', 'second']) await links[0]!.putAsync({ text, path: [] });
    links[0]!.close();
    for await (const message of links[names.length]!)
      console.log(`${message.text}: ${message.path.join(' -> ')}`);
    const forwarded = await Promise.all(relays);
    console.log(`main is pid ${process.pid}; the objects forwarded ${forwarded.join(', ')} messages`);
  } finally {
    await Promise.all(actors.map((a) => a[Symbol.asyncDispose]()));
  }
}

if (import.meta.main) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
