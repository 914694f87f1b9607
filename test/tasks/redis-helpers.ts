// Test-side helpers for the Redis broker: whether the machine's Redis is there, a random key prefix per
// test, SCAN + DEL cleanup that reports what it found, a throw-away redis-server of our own (for the
// reconnect tests: killed with SIGKILL and restarted on its port), and a NewJob factory.

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import type { NewJob } from '../../src/tasks/broker.ts';
import { storePatterns } from '../../src/tasks/redis/keys.ts';

export const REDIS_URL = 'redis://127.0.0.1:6379';
export const REDIS_MISSING =
  'Redis is missing at 127.0.0.1:6379: start a redis-server there to run this test';

/** True when a Redis answers PING at 127.0.0.1:6379 within a second. */
export async function redisAvailable(url = REDIS_URL): Promise<boolean> {
  const probe = new Redis(url, { lazyConnect: true, retryStrategy: () => null, connectTimeout: 1000 });
  probe.on('error', () => {});
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

/** A key prefix no other test or process uses. */
export function randomPrefix(): string {
  return `skein-test-${randomUUID().slice(0, 8)}`;
}

/** Every key of the store under `prefix`. */
export async function storeKeys(client: Redis, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for (const pattern of storePatterns(prefix)) {
    let cursor = '0';
    do {
      const [next, batch] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== '0');
  }
  return keys;
}

/** Deletes every key under `prefix` (SCAN + DEL) and returns how many it deleted. */
export async function deleteStore(prefix: string, url = REDIS_URL): Promise<number> {
  const client = new Redis(url, { retryStrategy: () => null });
  try {
    const keys = await storeKeys(client, prefix);
    for (let i = 0; i < keys.length; i += 500) await client.del(...keys.slice(i, i + 500));
    const left = await storeKeys(client, prefix);
    if (left.length > 0) throw new Error(`keys left under ${prefix} after cleanup: ${left.join(', ')}`);
    return keys.length;
  } finally {
    client.disconnect();
  }
}

let sequence = 0;

/** A valid NewJob for the test queue; ids are unique and increase with each call. */
export function newJob(overrides: Partial<NewJob> = {}): NewJob {
  sequence += 1;
  return {
    id: `${Date.now().toString().padStart(15, '0')}-${String(sequence).padStart(8, '0')}-${randomUUID().slice(0, 8)}`,
    queue: 'default',
    task: 'file:///tasks.ts#noop',
    payload: new Uint8Array([0, 1, 2, 255]),
    priority: 0,
    runAt: 0,
    maxAttempts: 3,
    timeLimitMs: null,
    idempotencyKey: null,
    group: null,
    resultTtlMs: 60_000,
    deadLetter: true,
    parentId: null,
    canvas: null,
    ...overrides,
  };
}

/** True when a redis-server binary is on the PATH (the reconnect tests start their own). */
export function redisServerInstalled(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

export const REDIS_SERVER_MISSING =
  'redis-server is not installed: the reconnect tests start and kill one of their own';

/** A free TCP port on 127.0.0.1 (taken from port 0, then released). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return address.port;
}

/** A redis-server of the test's own, without persistence, that can be killed and started again. */
export class ScratchRedis {
  readonly port: number;
  readonly url: string;
  readonly #dir = mkdtempSync(join(tmpdir(), 'skein-redis-'));
  #process: ChildProcess | undefined;

  constructor(port: number) {
    this.port = port;
    this.url = `redis://127.0.0.1:${port}`;
  }

  /** Starts the server and waits (bounded) until it answers PING. */
  async start(): Promise<void> {
    const child = spawn(
      'redis-server',
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        this.#dir,
      ],
      { stdio: 'ignore' },
    );
    this.#process = child;
    const deadline = Date.now() + 10_000;
    while (!(await redisAvailable(this.url))) {
      if (child.exitCode !== null)
        throw new Error(`redis-server on port ${this.port} exited with ${child.exitCode}`);
      if (Date.now() > deadline)
        throw new Error(`redis-server on port ${this.port} did not answer within 10 s`);
      await sleep(20);
    }
  }

  /** SIGKILLs the server and waits for it to be gone. */
  async kill(): Promise<void> {
    const child = this.#process;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  }

  async dispose(): Promise<void> {
    await this.kill();
    rmSync(this.#dir, { recursive: true, force: true });
  }
}

/** Polls `check` every 20 ms until it returns true; fails after `ms`. */
export async function until(
  check: () => Promise<boolean> | boolean,
  ms: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not reached within ${ms} ms`);
    await sleep(20);
  }
}
