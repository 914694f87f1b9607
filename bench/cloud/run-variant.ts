// One cloud benchmark variant in a fresh process: start its server as a child process (a bare Fastify
// app, or `skein up` in a temporary project with bench/cloud/echo-function.ts deployed), load it from
// here over node:http with a keep-alive Agent, check every answer, stop the server, print one JSON line.
// skein-agent-sync is skein-sync with `skein up --no-local-agent` and one `skein worker` beside it, so
// every call travels server → agent → server as a job.
// Usage: node bench/cloud/run-variant.ts <fastify|skein-sync|skein-agent-sync|skein-async> <durationMs|jobs> <connections> <warmupMs>

import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin/skein.ts');
const START_TIMEOUT_MS = 30_000;
const EXIT_TIMEOUT_MS = 10_000;
/** How long one waiting GET /api/jobs/:id holds before it answers the job as it is. */
const JOB_WAIT_MS = 60_000;
/** The argument of every sync call; both servers answer it back. */
const PAYLOAD = { message: 'hello world', n: 42 };

const [variant = '', amountArg = '', connectionsArg = '', warmupArg = ''] = process.argv.slice(2);
const amount = Number(amountArg);
const connections = Number(connectionsArg);
const warmupMs = Number(warmupArg);

interface Server {
  readonly url: string;
  readonly token: string;
  readonly child: ChildProcess;
  readonly dir?: string;
  /** The `skein worker` beside it (skein-agent-sync). */
  readonly worker?: ChildProcess;
}

interface Answer {
  readonly status: number;
  readonly body: string;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: connections });

function call(server: Server, method: string, path: string, body?: unknown): Promise<Answer> {
  const data = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${server.url}${path}`,
      {
        method,
        agent,
        headers: {
          authorization: `Bearer ${server.token}`,
          ...(data === undefined
            ? {}
            : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) }),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

/** Spawns a server that prints {"url"[, "token"]} as its first stdout line. */
async function spawnServer(
  args: readonly string[],
  cwd: string,
): Promise<{ url: string; token: string; child: ChildProcess }> {
  const child = spawn(process.execPath, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (!stdout.includes('\n')) {
    if (child.exitCode !== null) throw new Error(`the server exited ${child.exitCode}: ${stderr}`);
    if (Date.now() > deadline)
      throw new Error(`the server printed nothing within ${START_TIMEOUT_MS} ms: ${stderr}`);
    await sleep(20);
  }
  const info = JSON.parse(stdout.slice(0, stdout.indexOf('\n'))) as { url: string; token?: string };
  return { url: info.url, token: info.token ?? 'none', child };
}

async function startFastify(): Promise<Server> {
  return spawnServer([join(ROOT, 'bench/cloud/bare-fastify.ts')], ROOT);
}

function runCli(dir: string, args: readonly string[]): Promise<string> {
  return new Promise<string>((resolve, reject) =>
    execFile(process.execPath, [BIN, ...args], { cwd: dir }, (error, stdout, stderr) =>
      error === null ? resolve(stdout) : reject(new Error(`skein ${args[0]} failed: ${stderr}`)),
    ),
  );
}

/**
 * `skein up` in a temporary project, then `skein deploy fns.ts`: POST /fn/echo is ready. With `onAgent`,
 * the server runs no function code and one `skein worker` (the agent) runs every call.
 */
async function startSkein(onAgent: boolean): Promise<Server> {
  const dir = mkdtempSync(join(tmpdir(), 'skein-bench-cloud-'));
  writeFileSync(join(dir, 'package.json'), '{ "type": "module", "private": true }\n');
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(ROOT, join(dir, 'node_modules/skein'), 'dir');
  copyFileSync(join(ROOT, 'bench/cloud/echo-function.ts'), join(dir, 'fns.ts'));
  // Every connection's call runs: the function's concurrency limit is above the connections.
  const started = await spawnServer(
    [
      BIN,
      'up',
      '--json',
      '--port',
      '0',
      '--function-concurrency',
      String(Math.max(connections * 2, 8)),
      ...(onAgent ? ['--no-local-agent'] : []),
    ],
    dir,
  );
  const deployed = await runCli(dir, ['deploy', 'fns.ts', '--json']);
  if (!(JSON.parse(deployed) as { functions: { name: string }[] }).functions.some((fn) => fn.name === 'echo'))
    throw new Error(`skein deploy made no function echo: ${deployed}`);
  if (!onAgent) return { ...started, dir };
  const agentToken = (
    await runCli(dir, ['token', 'create', '--name', 'bench-agent', '--scope', 'agent'])
  ).trim();
  const worker = await spawnServer(
    [BIN, 'worker', '--json', '--server', started.url, '--token', agentToken],
    dir,
  );
  // Calls are refused (503) until the server has seen the agent: wait for one to pass.
  const deadline = Date.now() + START_TIMEOUT_MS;
  while ((await call(started, 'POST', '/fn/echo', { args: [PAYLOAD] })).status !== 200) {
    if (Date.now() > deadline) throw new Error('the agent did not take calls within the start timeout');
    await sleep(50);
  }
  return { ...started, dir, worker: worker.child };
}

async function stop(server: Server): Promise<void> {
  if (server.worker !== undefined) {
    const workerExited = once(server.worker, 'exit');
    server.worker.kill('SIGTERM');
    if (
      (await Promise.race([workerExited, sleep(EXIT_TIMEOUT_MS, 'late' as const, { ref: false })])) === 'late'
    ) {
      server.worker.kill('SIGKILL');
      await workerExited;
    }
  }
  const exited = once(server.child, 'exit');
  server.child.kill('SIGTERM');
  const late = sleep(EXIT_TIMEOUT_MS, 'late' as const, { ref: false });
  if ((await Promise.race([exited, late])) === 'late') {
    server.child.kill('SIGKILL');
    await exited;
  }
  if (server.dir !== undefined) rmSync(server.dir, { recursive: true, force: true, maxRetries: 5 });
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/** `connections` loops of sequential calls until `ms` passed; every answer checked. */
async function load(
  server: Server,
  ms: number,
): Promise<{ latencies: number[]; elapsedMs: number; wrong: number }> {
  const expected = JSON.stringify(PAYLOAD);
  const latencies: number[] = [];
  let wrong = 0;
  const start = performance.now();
  const end = start + ms;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < end) {
        const t0 = performance.now();
        const answer = await call(server, 'POST', '/fn/echo', { args: [PAYLOAD] });
        latencies.push(performance.now() - t0);
        if (answer.status !== 200 || answer.body !== expected) wrong += 1;
      }
    }),
  );
  return { latencies, elapsedMs: performance.now() - start, wrong };
}

/** Runs `jobs` async calls: submit all over `connections` loops, then wait for each; every result checked. */
async function submitAndDrain(
  server: Server,
  jobs: number,
): Promise<{ submitMs: number; doneMs: number; wrong: number }> {
  const ids: string[] = new Array(jobs);
  let wrong = 0;
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: connections }, async () => {
      for (let i = next++; i < jobs; i = next++) {
        const answer = await call(server, 'POST', '/fn/echo?async=1', { args: [i] });
        if (answer.status !== 202)
          throw new Error(`async call ${i} answered ${answer.status}: ${answer.body}`);
        ids[i] = (JSON.parse(answer.body) as { id: string }).id;
      }
    }),
  );
  const submitMs = performance.now() - start;
  next = 0;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      for (let i = next++; i < jobs; i = next++) {
        const answer = await call(server, 'GET', `/api/jobs/${ids[i]}?wait=${JOB_WAIT_MS}`);
        const job = JSON.parse(answer.body) as { state?: string; result?: unknown };
        if (job.state !== 'succeeded' || job.result !== i) wrong += 1;
      }
    }),
  );
  return { submitMs, doneMs: performance.now() - start, wrong };
}

if (!['fastify', 'skein-sync', 'skein-agent-sync', 'skein-async'].includes(variant))
  throw new Error(
    `unknown variant ${JSON.stringify(variant)}; known: fastify, skein-sync, skein-agent-sync, skein-async`,
  );
const server =
  variant === 'fastify' ? await startFastify() : await startSkein(variant === 'skein-agent-sync');
let line: object;
try {
  if (variant === 'skein-async') {
    await submitAndDrain(server, Math.min(50, amount)); // warm-up: the agent's threads load the bundle
    const { submitMs, doneMs, wrong } = await submitAndDrain(server, amount);
    line = {
      variant,
      ok: wrong === 0,
      wrong,
      metrics: {
        submitPerSec: amount / (submitMs / 1000),
        allDoneMs: doneMs,
        donePerSec: amount / (doneMs / 1000),
      },
    };
  } else {
    await load(server, warmupMs);
    const { latencies, elapsedMs, wrong } = await load(server, amount);
    latencies.sort((a, b) => a - b);
    line = {
      variant,
      ok: wrong === 0,
      wrong,
      metrics: {
        reqPerSec: latencies.length / (elapsedMs / 1000),
        p50Ms: percentile(latencies, 50),
        p99Ms: percentile(latencies, 99),
      },
    };
  }
} finally {
  agent.destroy();
  await stop(server);
}
process.stdout.write(`${JSON.stringify(line)}\n`);
