// What the cloud tests share: a temporary project (package.json, node_modules/skein linked to this
// repository, tasks.ts from test/fixtures/cloud-tasks.ts), a real `skein up` child process in it, the
// real CLI as a child process, and raw HTTP calls. Every wait is bounded so a bug fails fast.

import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin/skein.ts');
const START_TIMEOUT_MS = 20_000;
const CLI_TIMEOUT_MS = 30_000;
const EXIT_TIMEOUT_MS = 20_000;

/** A temporary project directory with tasks.ts; removed when the test ends. */
export async function makeProject(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'skein-cloud-'));
  t.after(() => rm(dir, { recursive: true, force: true, maxRetries: 5 }));
  await writeFile(join(dir, 'package.json'), '{ "type": "module", "private": true }\n');
  await mkdir(join(dir, 'node_modules'));
  await symlink(ROOT, join(dir, 'node_modules/skein'), 'dir');
  await copyFile(join(ROOT, 'test/fixtures/cloud-tasks.ts'), join(dir, 'tasks.ts'));
  return dir;
}

/** The environment of child processes: none of the caller's SKEIN_* settings leak in. */
function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('SKEIN_')) env[key] = value;
  return { ...env, ...extra };
}

/**
 * Cleanups for what a file's before() starts (servers, workers, project directories), in the shape of a
 * test context's `after`: everything registered is undone after the file's last test, newest first.
 * Call it at a test file's top level.
 */
export function fileCleanups(): { after(fn: () => Promise<void>): void } {
  const cleanups: (() => Promise<void>)[] = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });
  return { after: (fn) => void cleanups.push(fn) };
}

export interface RunningServer {
  readonly url: string;
  readonly token: string;
  readonly child: ChildProcess;
  /** stderr so far (warnings). */
  stderr(): string;
  /** SIGTERM, then the exit code (bounded). */
  stop(): Promise<number | null>;
  /** SIGKILL, then wait for the exit. */
  kill9(): Promise<void>;
}

/**
 * Starts `skein <command> --json …` in `dir` and waits for its first line (JSON); SIGKILLs it after the
 * test if it still runs. Gives that line and the child's controls.
 */
async function startSkein<Info>(
  t: { after(fn: () => Promise<void>): void },
  dir: string,
  command: string,
  args: readonly string[],
): Promise<{
  info: Info;
  child: ChildProcess;
  stderr: () => string;
  stop(): Promise<number | null>;
  kill9(): Promise<void>;
}> {
  const child = spawn(process.execPath, [BIN, command, '--json', ...args], {
    cwd: dir,
    env: childEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = once(child, 'exit');
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  });
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (!stdout.includes('\n')) {
    if (child.exitCode !== null) assert.fail(`skein ${command} exited ${child.exitCode}: ${stderr}`);
    if (Date.now() > deadline)
      assert.fail(`skein ${command} printed nothing within ${START_TIMEOUT_MS} ms: ${stderr}`);
    await sleep(20);
  }
  return {
    info: JSON.parse(stdout.slice(0, stdout.indexOf('\n'))) as Info,
    child,
    stderr: () => stderr,
    async stop() {
      child.kill('SIGTERM');
      const late = sleep(EXIT_TIMEOUT_MS, undefined, { ref: false }).then(() =>
        assert.fail(`skein ${command} did not exit within ${EXIT_TIMEOUT_MS} ms of SIGTERM`),
      );
      const [code] = (await Promise.race([exited, late])) as [number | null];
      return code;
    },
    async kill9() {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Starts `skein up --json --port 0` in `dir` and waits for its JSON line. */
export async function startServer(
  t: { after(fn: () => Promise<void>): void },
  dir: string,
  ...args: string[]
): Promise<RunningServer> {
  const { info, ...controls } = await startSkein<{ url: string; token: string }>(t, dir, 'up', [
    '--port',
    '0',
    ...args,
  ]);
  return { url: info.url, token: info.token, ...controls };
}

export interface CliOutcome {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the real `skein` CLI in `dir` (which finds .skein/credentials.json there). */
export function cli(
  dir: string,
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<CliOutcome> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { cwd: dir, env: childEnv(env), timeout: CLI_TIMEOUT_MS },
      (error, stdout, stderr) => {
        if (error !== null && typeof error.code !== 'number') reject(error);
        else resolve({ code: error === null ? 0 : (error.code as number), stdout, stderr });
      },
    );
  });
}

export interface ApiAnswer {
  readonly status: number;
  readonly headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: test bodies are read field by field and checked by assert.
  readonly body: any;
}

/** One HTTP call; `body` is sent as JSON unless it is a string (sent as is). */
export async function api(
  server: { readonly url: string },
  token: string | undefined,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<ApiAnswer> {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: {
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    signal: AbortSignal.timeout(CLI_TIMEOUT_MS),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Not JSON: the test sees the text.
  }
  return { status: response.status, headers: response.headers, body: parsed };
}

/** Asserts an error answer: status and stable code, never a 500. */
export function assertError(answer: ApiAnswer, status: number, code: string, what = ''): void {
  assert.equal(answer.status, status, `${what}: ${JSON.stringify(answer.body)}`);
  assert.equal(answer.body.code, code, what);
  assert.equal(answer.body.statusCode, status, what);
  assert.equal(typeof answer.body.message, 'string', what);
}

/** Waits (bounded) until `path` exists. */
export async function waitForFile(path: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(path)) {
    if (Date.now() > deadline) assert.fail(`${path} did not appear within ${timeoutMs} ms`);
    await sleep(20);
  }
}

/** Polls a job until it is in one of `states` (bounded); returns its view. */
export async function waitForState(
  server: { readonly url: string },
  token: string,
  id: string,
  states: readonly string[],
  timeoutMs = 15_000,
): Promise<ApiAnswer['body']> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answer = await api(server, token, 'GET', `/api/jobs/${id}`);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    if (states.includes(answer.body.state)) return answer.body;
    if (Date.now() > deadline) assert.fail(`job ${id} is ${answer.body.state}, not ${states.join('/')}`);
    await sleep(25);
  }
}

export interface RunningWorker {
  /** The agent id the server gave it. */
  readonly id: string;
  readonly pid: number;
  readonly child: ChildProcess;
  stderr(): string;
  /** SIGTERM, then the exit code (bounded). */
  stop(): Promise<number | null>;
  /** SIGKILL, then wait for the exit. */
  kill9(): Promise<void>;
}

/** Starts `skein worker --json --server URL --token T` in `dir` and waits for its JSON line. */
export async function startWorker(
  t: { after(fn: () => Promise<void>): void },
  dir: string,
  server: string,
  token: string,
  ...args: string[]
): Promise<RunningWorker> {
  const { info, ...controls } = await startSkein<{ id: string; pid: number }>(t, dir, 'worker', [
    '--server',
    server,
    '--token',
    token,
    ...args,
  ]);
  return { id: info.id, pid: info.pid, ...controls };
}

/** Makes a token through the real CLI in `dir` (the server's project) and gives its text. */
export async function createToken(dir: string, name: string, scope: string): Promise<string> {
  const created = await cli(dir, ['token', 'create', '--name', name, '--scope', scope]);
  assert.equal(created.code, 0, created.stderr);
  return created.stdout.trim();
}

/**
 * Starts `skein worker` in a project directory of its own (another "machine") and stops it after the
 * test if it still runs.
 */
export async function startWorkerElsewhere(
  t: { after(fn: () => Promise<void>): void },
  server: { readonly url: string },
  token: string,
  ...args: string[]
): Promise<RunningWorker> {
  const home = await makeProject(t);
  const running = await startWorker(t, home, server.url, token, ...args);
  t.after(async () => {
    if (running.child.exitCode === null && running.child.signalCode === null) await running.stop();
  });
  return running;
}

/** Polls GET /api/agents until `check` holds for the list (bounded); returns the list. */
export async function waitForAgents(
  server: { readonly url: string },
  token: string,
  check: (agents: ApiAnswer['body'][]) => boolean,
  what: string,
  timeoutMs = 15_000,
): Promise<ApiAnswer['body'][]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answer = await api(server, token, 'GET', '/api/agents');
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    if (check(answer.body.agents)) return answer.body.agents;
    if (Date.now() > deadline) assert.fail(`${what}: agents are ${JSON.stringify(answer.body.agents)}`);
    await sleep(50);
  }
}

/** The states a job ends in. */
export const FINISHED_STATES = ['succeeded', 'failed', 'dead', 'cancelled'];

/** What a kill -9 of the server must not lose: see submitBeforeKill and checkAfterRestart. */
export interface KillScenario {
  /** Opening this file lets the running job finish. */
  readonly gate: string;
  readonly runningId: string;
  readonly delayedId: string;
}

/**
 * Through `server`: runs one job to the end, starts one that waits on a gate file (and waits until it
 * runs), and submits one delayed 300 ms — the three kinds of job a killed server holds.
 */
export async function submitBeforeKill(server: RunningServer, dir: string): Promise<KillScenario> {
  const done = await cli(dir, ['submit', 'tasks.ts:add', '--args', '[20, 22]', '--wait']);
  assert.equal(done.stdout, '42\n', done.stderr);
  const gate = join(dir, 'kill.gate');
  const running = await api(server, server.token, 'POST', '/api/jobs', {
    module: 'tasks.ts',
    export: 'waitForFile',
    args: [gate, 'survived the kill'],
  });
  assert.equal(running.status, 202);
  await waitForFile(`${gate}.started`);
  const delayed = await api(server, server.token, 'POST', '/api/jobs', {
    module: 'tasks.ts',
    export: 'add',
    args: [1, 1],
    options: { delay: 300 },
  });
  assert.equal(delayed.status, 202);
  return { gate, runningId: running.body.id as string, delayedId: delayed.body.id as string };
}

/** Through the restarted server: every job of the scenario finished, the killed one on a second attempt. */
export async function checkAfterRestart(
  server: RunningServer,
  dir: string,
  scenario: KillScenario,
): Promise<void> {
  const delayed = await waitForState(server, server.token, scenario.delayedId, FINISHED_STATES);
  assert.equal(delayed.state, 'succeeded');
  assert.equal(delayed.result, 2);
  const running = await waitForState(server, server.token, scenario.runningId, FINISHED_STATES);
  assert.equal(running.state, 'succeeded');
  assert.equal(running.result, 'survived the kill');
  assert.equal(running.attempt, 2, 'the killed attempt counted, the second one finished it');
  const history = await cli(dir, ['ps', '--state', 'succeeded', '--json']);
  assert.equal(JSON.parse(history.stdout).jobs.length, 3, 'the job finished before the kill is still listed');
}

/** A frame of `GET /api/events`: its event name and its JSON data. */
export interface EventFrame {
  readonly event: string;
  // biome-ignore lint/suspicious/noExplicitAny: test frames are read field by field and checked by assert.
  readonly data: any;
}

/**
 * Reads `GET /api/events` as `token` in the background, collecting its frames as they come, once its
 * `: ready` line has arrived (bounded); `stop()` closes it.
 */
export async function openEventStream(
  server: RunningServer,
  token: string,
): Promise<{ readonly frames: EventFrame[]; stop(): Promise<void> }> {
  const abort = new AbortController();
  const response = await fetch(`${server.url}/api/events`, {
    headers: { authorization: `Bearer ${token}` },
    signal: abort.signal,
  });
  assert.equal(response.status, 200);
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  const frames: EventFrame[] = [];
  let text = '';
  let ready = false;
  const reading = (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        text += value;
        for (let end = text.indexOf('\n\n'); end >= 0; end = text.indexOf('\n\n')) {
          const frame = text.slice(0, end);
          text = text.slice(end + 2);
          if (frame === ': ready') ready = true;
          const match = /^event: (\w+)\ndata: (.*)$/s.exec(frame);
          if (match !== null) frames.push({ event: match[1]!, data: JSON.parse(match[2]!) });
        }
      }
    } catch {
      // Aborted by stop().
    }
  })();
  const deadline = Date.now() + 15_000;
  while (!ready) {
    if (Date.now() > deadline) {
      abort.abort();
      assert.fail(`the event stream did not open: ${text}`);
    }
    await sleep(10);
  }
  return {
    frames,
    async stop() {
      abort.abort();
      await reading;
    },
  };
}

/** The first of `frames` that `check` accepts, waiting for it up to 15 s. */
export async function waitForFrame(
  frames: readonly EventFrame[],
  check: (frame: EventFrame) => boolean,
  what: string,
): Promise<EventFrame> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const found = frames.find(check);
    if (found !== undefined) return found;
    if (Date.now() > deadline) assert.fail(`${what}: got ${JSON.stringify(frames)}`);
    await sleep(20);
  }
}
