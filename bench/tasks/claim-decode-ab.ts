// What decoding a claim's reply costs the worker per job, base against new in one process: two checkouts'
// job-codec.ts side by side on one reply of 128 no-op jobs as frame_claimed writes it (a 2-byte payload
// each), blocks of 1,500 replies alternated for 8 rounds, so a change of load on the shared machine falls
// on both. Prints per side the min and median process CPU ns per job.
// Usage: node bench/tasks/claim-decode-ab.ts <base checkout> [new checkout, default this one]
// A checkout from before decodeJob took the claim's stamp is called the way it was (the stamp passed to
// unframeClaimed, which wrote the claim's fields into each job).
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { JobFields } from '../../src/tasks/redis/job-codec.ts';

type Codec = typeof import('../../src/tasks/redis/job-codec.ts');
type Stamp = Parameters<Codec['decodeJob']>[1];

const [baseDir, newDir = new URL('../..', import.meta.url).pathname] = process.argv.slice(2);
if (baseDir === undefined)
  throw new Error('usage: node bench/tasks/claim-decode-ab.ts <base checkout> [new checkout]');
const codecOf = (dir: string): Promise<Codec> =>
  import(pathToFileURL(resolve(dir, 'src/tasks/redis/job-codec.ts')).href);

const jobs = Array.from({ length: 128 }, (_, i) => ({
  id: `01a21919-4a74-7000-9c91-574f7f4e${String(i).padStart(4, '0')}`,
  task: 'file:///work/main/bench/tasks/noop-task.ts#noop',
  createdAt: '1795717417591',
  runAt: '1795717417588',
  maxAttempts: '3',
  resultTtlMs: '86400000',
  deadLetter: '1',
  attempt: '1',
}));
const texts = Buffer.from(JSON.stringify(jobs));
const binaries = Buffer.concat(
  jobs.flatMap(() => [Buffer.from('\x01\npayload\n2\n'), Buffer.from([0x91, 1])]),
);
const stamp = { queue: 'bench', workerId: 'w1', now: 1_795_717_417_600, leaseMs: 30_000 };

function decoder(codec: Codec): () => number {
  // The earlier signature: unframeClaimed(texts, binaries, stamp), then decodeJob(hash).
  const unframe = codec.unframeClaimed as (texts: Buffer, binaries: Buffer, stamp?: Stamp) => JobFields[];
  const decode = codec.decodeJob as (hash: JobFields, stamp?: Stamp) => unknown;
  const stampFirst = codec.unframeClaimed.length === 3;
  return () => {
    let decoded = 0;
    for (const hash of unframe(texts, binaries, stampFirst ? stamp : undefined))
      if (decode(hash, stampFirst ? undefined : stamp) !== undefined) decoded++;
    return decoded;
  };
}

const sides = { base: decoder(await codecOf(baseDir)), new: decoder(await codecOf(newDir)) };
const results: Record<keyof typeof sides, number[]> = { base: [], new: [] };
for (let round = 0; round < 8; round++) {
  for (const name of ['base', 'new'] as const) {
    const start = process.cpuUsage();
    let decoded = 0;
    for (let k = 0; k < 1500; k++) decoded += sides[name]();
    const used = process.cpuUsage(start);
    results[name].push(((used.user + used.system) * 1000) / decoded);
  }
}
for (const [name, list] of Object.entries(results)) {
  const sorted = [...list].sort((a, b) => a - b);
  console.log(`${name} ns/job min ${sorted[0]!.toFixed(0)} median ${sorted[4]!.toFixed(0)}`);
}
