// Run the local cloud: `npx skein up` in a project directory starts the API, the job store and an
// agent on this machine and saves its URL and token in .skein/credentials.json. This client, run in
// the same directory, lists the agents and submits a job naming a task by module path and export,
// then waits for its result. Nothing sent to the server is evaluated: it imports the module itself.
//   npx skein up                                 (terminal 1)
//   node examples/cloud/local-cloud.ts           (terminal 2, same directory)
//   node examples/cloud/local-cloud.ts --module functions.ts   (the module's path in the server's project)

import { CloudClient } from '../../src/cloud/index.ts';

async function main(): Promise<void> {
  const at = process.argv.indexOf('--module');
  const module = at > 0 ? process.argv[at + 1]! : 'examples/cloud/functions.ts';
  const client = await CloudClient.connect();
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
