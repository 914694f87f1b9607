// Job ids: UUIDv7 text (48-bit milliseconds, then a 12-bit counter, then random bits), so ids sort by
// creation time and, within one process, strictly in creation order — FIFO among equal priorities.

import { randomFillSync } from 'node:crypto';

let lastMs = -1;
let sequence = 0;
// Random bytes drawn 4 KiB at a time: one randomFillSync per 512 ids rather than one per id.
const pool = new Uint8Array(4096);
let poolAt = pool.length;

/** A new time-ordered job id (UUIDv7 text); ids made later in this process compare greater. */
export function newJobId(now: number = Date.now()): string {
  if (now > lastMs) {
    lastMs = now;
    sequence = 0;
  } else if (++sequence > 0xfff) {
    // More than 4096 ids in one millisecond: borrow the next millisecond to keep the order strict.
    lastMs++;
    sequence = 0;
  }
  if (poolAt + 8 > pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  const random = pool.subarray(poolAt, poolAt + 8);
  poolAt += 8;
  const time = lastMs.toString(16).padStart(12, '0');
  const seq = (0x7000 | sequence).toString(16);
  const variant = ((random[0]! & 0x3f) | 0x80).toString(16);
  const tail = Array.from(random.subarray(1), (byte) => byte.toString(16).padStart(2, '0')).join('');
  return `${time.slice(0, 8)}-${time.slice(8)}-${seq}-${variant}${tail.slice(0, 2)}-${tail.slice(2, 14)}`;
}
