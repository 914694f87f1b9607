// Scale with a second agent: with `skein worker` running next to `skein up`, the same jobs spread over
// both agents. Each job says which process ran it; the recipe counts jobs per process. Nothing in the
// submitting code changes: agents claim jobs from the server's store.
//   npx skein up                                                    (terminal 1)
//   npx skein worker --server <url> --token <token>                 (terminal 2, same project)
//   node examples/cloud/scale-out.ts [--module functions.ts] [--jobs 8] [--job-ms 300]   (terminal 3)

import { CloudClient } from '../../src/cloud/index.ts';

function flag(name: string, fallback: string): string {
  const at = process.argv.indexOf(name);
  return at > 0 ? process.argv[at + 1]! : fallback;
}

async function main(): Promise<void> {
  const module = flag('--module', 'examples/cloud/functions.ts');
  const jobs = Number(flag('--jobs', '8'));
  const jobMs = Number(flag('--job-ms', '300'));
  const client = await CloudClient.connect();
  const agents = (await client.agents()).filter((a) => a.state === 'ready' || a.state === 'busy');
  console.log(`the local agent and ${agents.length} registered agent(s) live`);
  // Jobs long enough (300 ms) that one agent's slots cannot take them all before the other claims.
  const ids = await Promise.all(
    Array.from({ length: jobs }, () =>
      client.submit({ module, export: 'whereAmI', args: [jobMs] }).then((r) => r.id),
    ),
  );
  const perProcess = new Map<number, number>();
  for (const id of ids) {
    const job = await client.job(id, { wait: 60_000, signal: AbortSignal.timeout(70_000) });
    if (job.state !== 'succeeded')
      throw new Error(`job ${id} ended ${job.state}: ${JSON.stringify(job.error)}`);
    const { pid } = job.result as { pid: number };
    perProcess.set(pid, (perProcess.get(pid) ?? 0) + 1);
  }
  const spread = [...perProcess].map(([pid, n]) => `pid ${pid}: ${n}`).join(', ');
  console.log(`${jobs} jobs ran in ${perProcess.size} processes (${spread})`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
