// Type tests (checked by `npm run typecheck`, never run): the cloud client's requests and answers are
// typed by the API's wire types, and misuse (a missing export, an unknown option or scope) does not compile.

import { CloudClient, type JobView, type TokenScope } from '../../src/cloud/index.ts';

export async function typeChecks(): Promise<void> {
  const client = new CloudClient({ server: 'http://127.0.0.1:7420', token: 'skein_x_y' });
  const { id } = await client.submit({
    module: 'tasks.ts',
    export: 'add',
    args: [1, 2],
    options: { priority: 5 },
  });
  const job: JobView = await client.job(id, { wait: 1000 });
  const state: 'succeeded' | 'queued' | 'scheduled' | 'running' | 'failed' | 'dead' | 'cancelled' = job.state;
  const page = await client.jobs({ state: 'dead', limit: 10 });
  const first: JobView | undefined = page.jobs[0];
  const scopes: TokenScope[] = ['read', 'invoke'];
  const created = await client.createToken('ci', scopes);
  const text: string = created.token;
  void [state, first, text];

  // @ts-expect-error a job names its export
  await client.submit({ module: 'tasks.ts' });
  // @ts-expect-error options are the task queue's, by name
  await client.submit({ module: 'tasks.ts', export: 'add', options: { retries: 3 } });
  // @ts-expect-error there is no such state
  await client.jobs({ state: 'zombie' });
  // @ts-expect-error scopes are admin, deploy, invoke and read
  await client.createToken('ci', ['root']);
}
