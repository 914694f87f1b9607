// Runs the broker conformance suite against the SQLite engine, on a fresh temporary file per test.
import { SqliteBroker } from '../../src/tasks/sqlite/sqlite-broker.ts';
import { brokerSuite } from './broker.ts';
import { tempDir } from './helpers.ts';

const dirs: { path: string; remove(): void }[] = [];
const pathOf = new WeakMap<object, string>();

brokerSuite({
  name: 'SqliteBroker',
  async create() {
    const dir = tempDir();
    dirs.push(dir);
    const path = `${dir.path}/tasks.db`;
    const broker = new SqliteBroker({ path, pollInterval: 20 });
    pathOf.set(broker, path);
    return broker;
  },
  async connect(broker) {
    const path = pathOf.get(broker);
    if (path === undefined) throw new Error('connect() takes a broker that create() made');
    return new SqliteBroker({ path, pollInterval: 20 });
  },
  async cleanup() {
    for (const dir of dirs.splice(0)) dir.remove();
  },
});
