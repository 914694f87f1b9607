// Type tests (checked by `npm run typecheck`, never run): the cloud client's requests and answers are
// typed by the API's wire types, and misuse (a missing export, an unknown option or scope) does not compile.

import {
  type AgentState,
  type AgentView,
  CloudClient,
  type JobView,
  RemoteAgent,
  type TokenScope,
} from '../../src/cloud/index.ts';

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
  // @ts-expect-error scopes are admin, deploy, invoke, read and agent
  await client.createToken('ci', ['root']);

  await client.createToken('workers', ['agent']);
  const agents: AgentView[] = await client.agents();
  const agentState: AgentState | undefined = agents[0]?.state;
  const running: readonly string[] | undefined = agents[0]?.runningJobs;
  await using agent = await RemoteAgent.start({
    server: 'http://10.0.0.5:7420',
    token: 'skein_x_y',
    labels: { zone: 'a' },
    concurrency: 4,
  });
  const agentId: string = agent.id;
  void [agentState, running, agentId];
  // @ts-expect-error an agent needs the server's URL
  await RemoteAgent.start({ token: 'skein_x_y' });
  // @ts-expect-error label values are text
  await RemoteAgent.start({ server: 'http://x', token: 't', labels: { gpus: 2 } });
}
