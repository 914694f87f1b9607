// Instructions Redis spends per job on the worker's hot path, counted by callgrind, which no other load
// on the machine changes (CPU time on a shared machine swings by a third): claiming alone, then settling
// alone, with settleAndClaim in batches and one call in flight. Measured against a Redis run under
// callgrind, e.g.:
//   valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.out.%p redis-server --port 6396 --save '' --appendonly no &
//   node bench/tasks/redis-instructions.ts --pid <valgrind's pid> --out-dir /tmp [--jobs 4000] [--batch 128]
// Prints one JSON line: { claim, settle } instructions per job. (callgrind_control must be on the PATH.)
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { TaskQueue } from '../../src/tasks/index.ts';
import { encodeValue } from '../../src/tasks/payload.ts';
import { taskAddress } from '../../src/tasks/queue.ts';
import { RedisBroker } from '../../src/tasks/redis/redis-broker.ts';
import { noop } from './noop-task.ts';
import { deleteKeysWithPrefix } from './redis-keys.ts';

const { values } = parseArgs({
  options: {
    pid: { type: 'string' },
    'out-dir': { type: 'string', default: '/tmp' },
    jobs: { type: 'string', default: '4000' },
    batch: { type: 'string', default: '128' },
    redis: { type: 'string', default: 'redis://127.0.0.1:6396' },
  },
});
const pid = values.pid;
if (pid === undefined) throw new Error('--pid <pid of the valgrind running redis-server> is required');
const jobs = Number(values.jobs);
const batch = Number(values.batch);
const url = values.redis;
const outDir = values['out-dir'];

/** Instructions counted since the last zeroing: callgrind dumps them to a new file, read here. */
function instructions(): number {
  execFileSync('callgrind_control', ['-d', pid!], { stdio: 'ignore' });
  const newest = readdirSync(outDir)
    .filter((name) => name.startsWith(`cg.out.${pid}.`))
    .map((name) => join(outDir, name))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
  if (newest === undefined) throw new Error(`no callgrind dump cg.out.${pid}.* in ${outDir}`);
  const total = /^(?:summary|totals): (\d+)/m.exec(readFileSync(newest, 'utf8'));
  if (total === null) throw new Error(`${newest} has no totals`);
  return Number(total[1]);
}
const zero = (): void => void execFileSync('callgrind_control', ['-z', pid], { stdio: 'ignore' });

const prefix = `skein-instructions-${randomUUID()}`;
const broker = new RedisBroker({ url, prefix });
const queue = new TaskQueue({ broker, name: 'bench' });
const redis = new Redis(url);
try {
  const entries = Array.from({ length: jobs }, (_, i) => ({ task: noop, args: [i] }));
  for (let at = 0; at < jobs; at += 1000) await queue.enqueueBulk(entries.slice(at, at + 1000));
  const claim = {
    queue: 'bench',
    workerId: 'w1',
    max: batch,
    leaseMs: 60_000,
    tasks: [await taskAddress(noop, 'noop')],
  };
  // The scripts' first run (an EVAL, compiling them) is left out.
  await broker.settleAndClaim('w0', [], { ...claim, workerId: 'w0', max: 1 });
  zero();
  const held = [];
  for (;;) {
    const { claimed } = await broker.settleAndClaim('w1', [], claim);
    if (claimed.length === 0) break;
    held.push(...claimed);
  }
  const claimed = instructions();
  zero();
  const result = encodeValue(1, 'the result');
  for (let at = 0; at < held.length; at += batch) {
    const outcomes = held
      .slice(at, at + batch)
      .map((job) => ({ id: job.id, kind: 'complete' as const, result }));
    await broker.settleAndClaim('w1', outcomes, null);
  }
  const settled = instructions();
  console.log(
    JSON.stringify({
      jobs: held.length,
      claim: Math.round(claimed / held.length),
      settle: Math.round(settled / held.length),
    }),
  );
} finally {
  await deleteKeysWithPrefix(redis, prefix);
  redis.disconnect();
  await queue.close();
  await broker.close();
}
