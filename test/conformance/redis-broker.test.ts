// Runs the broker conformance suite against the Redis engine on the machine's Redis (127.0.0.1:6379),
// each test on a random key prefix whose keys are deleted (SCAN + DEL) and checked gone afterwards.
// Without a Redis there, one skipped test says so.
import { test } from 'node:test';
import { RedisBroker } from '../../src/tasks/redis/redis-broker.ts';
import {
  deleteStore,
  REDIS_MISSING,
  REDIS_URL,
  randomPrefix,
  redisAvailable,
} from '../tasks/redis-helpers.ts';
import { brokerSuite } from './broker.ts';

if (await redisAvailable()) {
  const prefixes: string[] = [];
  const prefixOf = new WeakMap<object, string>();
  brokerSuite({
    name: 'RedisBroker',
    async create() {
      const prefix = randomPrefix();
      prefixes.push(prefix);
      const broker = new RedisBroker({ url: REDIS_URL, prefix });
      prefixOf.set(broker, prefix);
      return broker;
    },
    async connect(broker) {
      const prefix = prefixOf.get(broker);
      if (prefix === undefined) throw new Error('connect() takes a broker that create() made');
      return new RedisBroker({ url: REDIS_URL, prefix });
    },
    async cleanup() {
      // deleteStore throws when a key survives the deletion.
      for (const prefix of prefixes.splice(0)) await deleteStore(prefix);
    },
  });
} else {
  test('Broker conformance: RedisBroker', { skip: REDIS_MISSING }, () => {});
}
