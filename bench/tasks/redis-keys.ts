// The task benchmarks' clean-up: each run uses its own key prefix on a shared Redis and leaves nothing.

import type { Redis } from 'ioredis';

/** Deletes every key whose name contains `prefix` (SCAN in pages, so a large keyspace never blocks Redis). */
export async function deleteKeysWithPrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `*${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
}
