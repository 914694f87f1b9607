// Many machines on one box: network namespaces joined by veth pairs (needs root and `ip netns`). The
// server and its own Redis live in one namespace (Redis bound to that namespace's loopback, so no
// agent could reach it), two `skein worker` agents in two others that reach only the server's HTTP
// port, and this test process talks to the server over a third link, as a client machine would. One
// agent is killed with SIGKILL mid-job: it is listed lost, its job completes on the other agent, and
// every job submitted ends succeeded; then a function deployed from here and called synchronously runs
// on the agent left. Skipped, saying why, without root, `ip netns` or redis-server.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  api,
  cli,
  FINISHED_STATES,
  makeProject,
  ROOT,
  waitForAgents,
  waitForFile,
  waitForState,
} from './harness.ts';

const BIN = join(ROOT, 'bin/skein.ts');
const PORT = 7420;
const START_TIMEOUT_MS = 20_000;
const FINISHED = FINISHED_STATES;

function ip(...args: string[]): { ok: boolean; out: string } {
  const run = spawnSync('ip', args, { encoding: 'utf8' });
  return { ok: run.status === 0, out: `${run.stdout ?? ''}${run.stderr ?? ''}${run.error?.message ?? ''}` };
}

function whyNot(): string | false {
  if (process.getuid?.() !== 0)
    return 'needs root to make network namespaces (ip netns); run the tests as root';
  if (spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status !== 0) {
    return 'redis-server is not installed: the server namespace runs a Redis of its own';
  }
  const probe = `skein-probe-${randomBytes(3).toString('hex')}`;
  const added = ip('netns', 'add', probe);
  if (!added.ok) return `ip netns is unavailable here (${added.out.trim()})`;
  ip('netns', 'del', probe);
  return false;
}

const skip = whyNot();

interface Spawned {
  readonly child: ChildProcess;
  /** The first line of stdout as JSON (bounded wait). */
  line(): Promise<Record<string, unknown>>;
  stderr(): string;
  kill9(): Promise<void>;
}

/** Runs `argv` in namespace `ns` (ip netns exec replaces itself, so the pid is the program's). */
function inNamespace(
  t: { after(fn: () => Promise<void>): void },
  ns: string,
  cwd: string,
  argv: string[],
): Spawned {
  const child = spawn('ip', ['netns', 'exec', ns, ...argv], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = once(child, 'exit');
  const kill9 = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  };
  t.after(kill9);
  const line = async (): Promise<Record<string, unknown>> => {
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (!stdout.includes('\n')) {
      if (child.exitCode !== null) assert.fail(`${argv.join(' ')} exited ${child.exitCode}: ${stderr}`);
      if (Date.now() > deadline) assert.fail(`${argv.join(' ')} printed nothing: ${stderr}`);
      await sleep(20);
    }
    return JSON.parse(stdout.slice(0, stdout.indexOf('\n'))) as Record<string, unknown>;
  };
  return { child, line, stderr: () => stderr, kill9 };
}

test('hosts in network namespaces: server + Redis on one, agents on two others, one agent killed mid-run', {
  skip,
}, async (t) => {
  const tag = randomBytes(2).toString('hex');
  const ns = { server: `sk${tag}-srv`, a: `sk${tag}-a`, b: `sk${tag}-b` };
  // Links: agent a ↔ server (10.77.1.0/24), agent b ↔ server (10.77.2.0/24), this process ↔ server (10.77.3.0/24).
  t.after(async () => {
    for (const name of Object.values(ns)) ip('netns', 'del', name);
    ip('link', 'del', `sk${tag}h`);
  });
  for (const name of Object.values(ns)) {
    assert.ok(ip('netns', 'add', name).ok, `ip netns add ${name}`);
    assert.ok(ip('-n', name, 'link', 'set', 'lo', 'up').ok);
  }
  const link = (
    ifA: string,
    nsA: string | undefined,
    addrA: string,
    ifB: string,
    nsB: string,
    addrB: string,
  ) => {
    const made = ip('link', 'add', ifA, 'type', 'veth', 'peer', 'name', ifB);
    assert.ok(made.ok, made.out);
    if (nsA !== undefined) assert.ok(ip('link', 'set', ifA, 'netns', nsA).ok);
    assert.ok(ip('link', 'set', ifB, 'netns', nsB).ok);
    const a = nsA === undefined ? [] : ['-n', nsA];
    assert.ok(ip(...a, 'addr', 'add', addrA, 'dev', ifA).ok);
    assert.ok(ip(...a, 'link', 'set', ifA, 'up').ok);
    assert.ok(ip('-n', nsB, 'addr', 'add', addrB, 'dev', ifB).ok);
    assert.ok(ip('-n', nsB, 'link', 'set', ifB, 'up').ok);
  };
  link(`sk${tag}a`, ns.a, '10.77.1.2/24', `sk${tag}sa`, ns.server, '10.77.1.1/24');
  link(`sk${tag}b`, ns.b, '10.77.2.2/24', `sk${tag}sb`, ns.server, '10.77.2.1/24');
  link(`sk${tag}h`, undefined, '10.77.3.2/24', `sk${tag}sh`, ns.server, '10.77.3.1/24');

  const redisDir = await mkdtemp(join(tmpdir(), 'skein-netns-redis-'));
  t.after(() => rm(redisDir, { recursive: true, force: true }));
  const redis = inNamespace(t, ns.server, redisDir, [
    'redis-server',
    '--port',
    '6379',
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--dir',
    redisDir,
  ]);
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (
    spawnSync('ip', ['netns', 'exec', ns.server, 'redis-cli', 'ping'], {
      encoding: 'utf8',
    }).stdout?.trim() !== 'PONG'
  ) {
    assert.ok(Date.now() < deadline, `the namespace's Redis did not start: ${redis.stderr()}`);
    await sleep(50);
  }

  const dir = await makeProject(t);
  const up = inNamespace(t, ns.server, dir, [
    process.execPath,
    BIN,
    'up',
    '--json',
    '--host',
    '0.0.0.0',
    '--allow-remote',
    '--port',
    String(PORT),
    '--redis',
    'redis://127.0.0.1:6379',
    '--no-local-agent',
    '--lease-timeout',
    '1500',
    '--agent-timeout',
    '1500',
  ]);
  const info = await up.line();
  const server = { url: `http://10.77.3.1:${PORT}` };
  const admin = info.token as string;
  const created = await cli(dir, [
    'token',
    'create',
    '--name',
    'agents',
    '--scope',
    'agent',
    '--server',
    server.url,
    '--token',
    admin,
  ]);
  assert.equal(created.code, 0, created.stderr);
  const agentToken = created.stdout.trim();

  const startAgent = async (name: 'a' | 'b', serverIp: string) => {
    const home = await makeProject(t);
    const agent = inNamespace(t, ns[name], home, [
      process.execPath,
      BIN,
      'worker',
      '--json',
      '--server',
      `http://${serverIp}:${PORT}`,
      '--token',
      agentToken,
      '--concurrency',
      '1',
      '--label',
      `host=${name}`,
    ]);
    const line = await agent.line();
    return { ...agent, id: line.id as string, pid: line.pid as number };
  };
  const [a, b] = await Promise.all([startAgent('a', '10.77.1.1'), startAgent('b', '10.77.2.1')]);
  // An agent reaches the server's HTTP port only: the Redis of the server's namespace is not on its network.
  const probe = spawnSync(
    'ip',
    ['netns', 'exec', ns.a, 'redis-cli', '-h', '10.77.1.1', '-p', '6379', 'ping'],
    {
      encoding: 'utf8',
      timeout: 5000,
    },
  );
  assert.notEqual(probe.stdout?.trim(), 'PONG', 'an agent cannot reach the store');

  await waitForAgents(
    server,
    admin,
    (agents) => [a.id, b.id].every((id) => agents.find((x) => x.id === id)?.state === 'ready'),
    'both agents are ready',
  );
  const gates = [join(dir, 'netns-0.gate'), join(dir, 'netns-1.gate')];
  const ids: string[] = [];
  for (const [i, gate] of gates.entries()) {
    const answer = await api(server, admin, 'POST', '/api/jobs', {
      module: 'tasks.ts',
      export: 'waitForFile',
      args: [gate, `gated ${i}`],
    });
    assert.equal(answer.status, 202, JSON.stringify(answer.body));
    ids.push(answer.body.id);
  }
  for (const gate of gates) await waitForFile(`${gate}.started`);
  const pids = await Promise.all(
    gates.map(async (gate) => Number(await readFile(`${gate}.started`, 'utf8'))),
  );
  assert.deepEqual([...pids].sort(), [a.pid, b.pid].sort(), 'each agent runs one of the two jobs');
  const [victim, survivor] = pids[0] === a.pid ? [a, b] : [b, a];

  await victim.kill9();
  for (const gate of gates) await writeFile(gate, 'open\n');
  const quick: string[] = [];
  for (let i = 0; i < 4; i++) {
    const answer = await api(server, admin, 'POST', '/api/jobs', {
      module: 'tasks.ts',
      export: 'add',
      args: [i, 100],
    });
    quick.push(answer.body.id);
  }
  await waitForAgents(
    server,
    admin,
    (agents) => agents.find((x) => x.id === victim.id)?.state === 'lost',
    'the killed agent is listed lost',
  );
  const moved = await waitForState(server, admin, ids[0]!, FINISHED, 20_000);
  assert.equal(moved.state, 'succeeded', JSON.stringify(moved));
  assert.equal(moved.attempt, 2);
  const runs = (await readFile(`${gates[0]}.runs`, 'utf8')).split('\n').filter(Boolean).map(Number);
  assert.deepEqual(runs, [victim.pid, survivor.pid], 'the killed job ran again on the other host');
  for (const id of [ids[1]!, ...quick]) {
    assert.equal((await waitForState(server, admin, id, FINISHED, 20_000)).state, 'succeeded');
  }

  // A deployed function called synchronously runs on the agent left, on its own host: the server runs
  // no function code (--no-local-agent) and the agent fetches the bundle over its link.
  await copyFile(join(ROOT, 'test/fixtures/cloud-agent-fns.ts'), join(dir, 'agent-fns.ts'));
  const deployed = await cli(dir, ['deploy', 'agent-fns.ts', '--server', server.url, '--token', admin]);
  assert.equal(deployed.code, 0, deployed.stderr);
  const invoked = await api(server, admin, 'POST', '/fn/where', { args: [0] });
  assert.equal(invoked.status, 200, JSON.stringify(invoked.body));
  assert.equal(invoked.body, survivor.pid, 'the sync call ran on the surviving agent');
});
