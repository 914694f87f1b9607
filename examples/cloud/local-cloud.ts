// Run the local cloud: `npx skein up` in a project directory starts the API, the job store and an
// agent on this machine and saves its URL and token in .skein/credentials.json. This client, run in
// the same directory, lists the agents and submits a job naming a task by module path and export,
// then waits for its result. Nothing sent to the server is evaluated: it imports the module itself.
//   npx skein up                                 (terminal 1)
//   node examples/cloud/local-cloud.ts           (terminal 2, same directory)
//   node examples/cloud/local-cloud.ts --module functions.ts   (the module's path in the server's project)

import { join } from 'node:path';
import { CloudClient, readCredentials } from '../../src/cloud/index.ts';

/** The cloud to talk to: SKEIN_SERVER/SKEIN_TOKEN, else what `skein up` saved in .skein/. */
async function connect(): Promise<CloudClient> {
  const saved = await readCredentials(join(process.cwd(), '.skein'));
  const server = process.env.SKEIN_SERVER ?? saved?.server;
  const token = process.env.SKEIN_TOKEN ?? saved?.token;
  if (server === undefined || token === undefined) {
    throw new Error(
      'no cloud found: run `npx skein up` in this directory first, or set SKEIN_SERVER and SKEIN_TOKEN',
    );
  }
  return new CloudClient({ server, token });
}

async function main(): Promise<void> {
  const at = process.argv.indexOf('--module');
  const module = at > 0 ? process.argv[at + 1]! : 'examples/cloud/functions.ts';
  const client = await connect();
  const agents = await client.agents({ signal: AbortSignal.timeout(10_000) });
  // The server runs its own local agent (unless --no-local-agent); this lists the `skein worker` agents.
  console.log(
    `cloud at ${client.server}: the local agent and ${agents.length} registered agent(s)${agents.map((a) => `, ${a.name} (${a.state}, ${a.concurrency} slots)`).join('')}`,
  );
  const { id, task } = await client.submit({ module, export: 'wordCount', args: ['to be or not to be'] });
  const job = await client.job(id, { wait: 30_000, signal: AbortSignal.timeout(40_000) });
  console.log(`job ${task} ended ${job.state}: ${JSON.stringify(job.result)}`);
  if (job.state !== 'succeeded') process.exitCode = 1;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
