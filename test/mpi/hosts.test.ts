// Ranks on other hosts: mpi-agents start the ranks and mpirun --hosts deals them out; the conformance
// program must give the sequential reference's results. First with agents on loopback, then across
// network namespaces (each agent in its own namespace, joined by a bridge; needs root and iproute2),
// so rank-to-rank traffic really crosses hosts' interfaces. Refused tokens and unreachable agents fail
// with SKEIN_MPI_TRANSPORT.

import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { once } from 'node:events';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { MpiAgent, mpirun } from '../../src/mpi/index.ts';
import { dealRanks } from '../../src/mpi/launch/agents.ts';
import { expectedFor } from '../conformance/mpi.ts';
import { everyOperation } from '../fixtures/mpi/every-operation.ts';

const SKEIN = fileURLToPath(new URL('../../bin/skein.ts', import.meta.url));
const TOKEN = 'agent-test-token';
const AGENT_START_TIMEOUT_MS = 20_000;

function assertConformant(results: readonly Record<string, unknown>[]): void {
  for (const [rank, observed] of results.entries()) {
    const expected = expectedFor(rank, results.length);
    for (const key of Object.keys(expected))
      assert.deepEqual(observed[key], expected[key], `rank ${rank}: ${key}`);
  }
}

test('mpirun --hosts runs every operation on ranks started by two mpi-agents (loopback)', async (t) => {
  const agents = [new MpiAgent({ token: TOKEN }), new MpiAgent({ token: TOKEN })];
  t.after(() => Promise.all(agents.map((agent) => agent.close())));
  const hosts = await Promise.all(agents.map((agent) => agent.listen()));
  const results = await mpirun(4, everyOperation, { hosts, agentToken: TOKEN, timeout: 60_000 });
  assertConformant(results);
});

test('an mpi-agent refuses a launcher without its token, and mpirun says so', async (t) => {
  const agent = new MpiAgent({ token: TOKEN });
  t.after(() => agent.close());
  const hosts = [await agent.listen()];
  await assert.rejects(mpirun(2, everyOperation, { hosts, agentToken: 'not-the-token' }), {
    code: 'SKEIN_MPI_TRANSPORT',
    message: /refused the job: the launcher did not present this agent's token/,
  });
});

test('hosts as { address, token, slots }: each agent its own token, ranks filling the slots in order', async (t) => {
  const agents = [new MpiAgent(), new MpiAgent()];
  t.after(() => Promise.all(agents.map((agent) => agent.close())));
  const addresses = await Promise.all(agents.map((agent) => agent.listen()));
  const hosts = agents.map((agent, i) => ({ address: addresses[i]!, token: agent.token, slots: 3 - i }));
  const results = await mpirun(3, everyOperation, { hosts, timeout: 60_000 });
  assertConformant(results);
  // A host without a token of its own falls back to agentToken, and one with a wrong one refuses.
  await assert.rejects(
    mpirun(2, everyOperation, {
      hosts: [{ address: addresses[0]! }, { address: addresses[1]!, token: agents[1]!.token }],
      agentToken: 'not-the-token',
    }),
    {
      code: 'SKEIN_MPI_TRANSPORT',
      message: new RegExp(`${addresses[0]!.replace(/[.[\]]/g, '\\$&')} refused`),
    },
  );
});

test('dealRanks: equal blocks without slots; with slots, hosts fill in order and the rest is dealt over all', () => {
  const two = [{ address: 'a:1' }, { address: 'b:1' }];
  assert.deepEqual(dealRanks(two, 5), [
    [0, 1],
    [2, 3, 4],
  ]);
  const slotted = [
    { address: 'a:1', slots: 3 },
    { address: 'b:1', slots: 2 },
  ];
  assert.deepEqual(dealRanks(slotted, 4), [[0, 1, 2], [3]]);
  assert.deepEqual(dealRanks(slotted, 2), [[0, 1], []]);
  // 5 slots: the 2 ranks past them go one to each host.
  assert.deepEqual(dealRanks(slotted, 7), [
    [0, 1, 2, 3],
    [4, 5, 6],
  ]);
  assert.deepEqual(
    dealRanks(
      [
        { address: 'a:1', slots: 0 },
        { address: 'b:1', slots: 0 },
      ],
      3,
    ),
    [[0], [1, 2]],
  );
  // One host without slots: equal blocks for all.
  assert.deepEqual(dealRanks([{ address: 'a:1', slots: 3 }, { address: 'b:1' }], 4), [
    [0, 1],
    [2, 3],
  ]);
});

test('mpirun refuses malformed hosts with SKEIN_MPI_INVALID_ARGUMENT', async () => {
  for (const hosts of [
    ['no-port'],
    [{ address: 'h:1', token: '' }],
    [{ address: 'h:1', slots: -1 }],
    [{ address: 'h:1', slots: 1.5 }],
    [{ token: 'x' }],
    [42],
  ]) {
    await assert.rejects(mpirun(2, everyOperation, { hosts: hosts as never }), {
      code: 'SKEIN_MPI_INVALID_ARGUMENT',
      message: /hosts must be agent addresses "host:port" or \{ address, token\?, slots\? \}/,
    });
  }
});

test('mpirun --hosts with an agent nobody runs fails with SKEIN_MPI_TRANSPORT naming it', async () => {
  const agent = new MpiAgent();
  const address = await agent.listen();
  await agent.close();
  await assert.rejects(mpirun(2, everyOperation, { hosts: [address] }), {
    code: 'SKEIN_MPI_TRANSPORT',
    message: new RegExp(`could not reach the mpi-agent at ${address.replace(/[.[\]]/g, '\\$&')}`),
  });
});

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: 'pipe' });
}

function networkNamespacesUsable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root to create network namespaces';
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'pipe' });
  } catch {
    return 'needs iproute2 (the ip command) with netns support';
  }
  return undefined;
}

test('ranks in two network namespaces, joined by a bridge, run every operation over TCP', {
  skip: networkNamespacesUsable(),
}, async (t) => {
  const id = randomBytes(3).toString('hex');
  const subnet = `10.231.${randomInt(1, 250)}`;
  const bridge = `skbr${id}`;
  const spaces = [`skein-mpi-${id}-a`, `skein-mpi-${id}-b`];
  const agents: ReturnType<typeof spawn>[] = [];
  t.after(async () => {
    for (const agent of agents) agent.kill('SIGTERM');
    await Promise.all(agents.map((agent) => (agent.exitCode === null ? once(agent, 'exit') : undefined)));
    for (const space of spaces) {
      try {
        ip('netns', 'del', space);
      } catch {}
    }
    try {
      ip('link', 'del', bridge);
    } catch {}
  });
  ip('link', 'add', bridge, 'type', 'bridge');
  ip('addr', 'add', `${subnet}.1/24`, 'dev', bridge);
  ip('link', 'set', bridge, 'up');
  const addresses: string[] = [];
  for (const [i, space] of spaces.entries()) {
    const outer = `skv${id}${i}`;
    const inner = `skn${id}${i}`;
    ip('netns', 'add', space);
    ip('link', 'add', outer, 'type', 'veth', 'peer', 'name', inner);
    ip('link', 'set', inner, 'netns', space);
    ip('link', 'set', outer, 'master', bridge);
    ip('link', 'set', outer, 'up');
    ip('netns', 'exec', space, 'ip', 'addr', 'add', `${subnet}.${i + 2}/24`, 'dev', inner);
    ip('netns', 'exec', space, 'ip', 'link', 'set', inner, 'up');
    ip('netns', 'exec', space, 'ip', 'link', 'set', 'lo', 'up');
    const agent = spawn(
      'ip',
      [
        'netns',
        'exec',
        space,
        process.execPath,
        SKEIN,
        'mpi-agent',
        '--listen',
        `${subnet}.${i + 2}:7207`,
        '--token',
        TOKEN,
      ],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    agents.push(agent);
    let seen = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`the agent in ${space} did not start: ${seen}`)),
        AGENT_START_TIMEOUT_MS,
      );
      agent.stdout!.on('data', (chunk: Buffer) => {
        seen += chunk.toString();
        if (seen.includes('listening on')) {
          clearTimeout(timer);
          resolve();
        }
      });
      agent.once('exit', (code) => reject(new Error(`the agent in ${space} exited with ${code}: ${seen}`)));
    });
    addresses.push(`${subnet}.${i + 2}:7207`);
  }
  const results = await mpirun(4, everyOperation, {
    hosts: addresses,
    host: `${subnet}.1`,
    agentToken: TOKEN,
    timeout: 60_000,
  });
  assertConformant(results);
});
