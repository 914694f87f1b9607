// Periodic jobs, on each engine: two schedulers on one store fire each tick of an interval schedule
// exactly once between them; bad schedules are refused when the scheduler is built.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Scheduler } from '../../src/tasks/index.ts';
import { codeOf } from '../conformance/helpers.ts';
import { add } from '../fixtures/add.ts';
import { ENGINES, setup, until } from './helpers.ts';

for (const engine of ENGINES) {
  describe(`scheduler (${engine})`, () => {
    it('fires each tick once across two schedulers', async (t) => {
      const { broker, queue } = await setup(t, undefined, engine);
      const fired: [string, number, string][] = [];
      const schedulers = ['a', 'b'].map(
        (id) => new Scheduler({ broker, id, schedules: [{ id: 'sum', task: add, args: [1, 2], every: 50 }] }),
      );
      t.after(() => Promise.all(schedulers.map((s) => s.close())));
      for (const s of schedulers) {
        s.on('fired', (scheduleId, tickAt) => fired.push([scheduleId, tickAt, s.id]));
        s.on('brokerError', (error) => assert.fail(String(error)));
        s.start();
      }
      await until('six ticks', () => (fired.length >= 6 ? true : undefined));
      await Promise.all(schedulers.map((s) => s.close()));
      const ticks = fired.map(([, tickAt]) => tickAt);
      assert.equal(new Set(ticks).size, ticks.length, `a tick fired twice: ${ticks.join(', ')}`);
      for (const tick of ticks) assert.equal(tick % 50, 0, 'ticks are aligned to the interval');
      const queued = await queue.list('queued', { limit: 1000 });
      assert.equal(queued.length, fired.length, 'one job per fired tick');
      assert.deepEqual(queued[0]!.args, [1, 2]);
    });

    it('refuses bad schedules when built', async (t) => {
      const { broker } = await setup(t, undefined, engine);
      const cases: [unknown, string][] = [
        [{ id: 'x', task: add, cron: '61 * * * *' }, 'SKEIN_TASKS_INVALID_CRON'],
        [{ id: 'x', task: add }, 'SKEIN_TASKS_INVALID_OPTION'],
        [{ id: 'x', task: add, every: 10, cron: '* * * * *' }, 'SKEIN_TASKS_INVALID_OPTION'],
        [{ id: '', task: add, every: 10 }, 'SKEIN_TASKS_INVALID_OPTION'],
        [{ id: 'x', task: add, every: 10, args: [() => 1] }, 'SKEIN_TASKS_NOT_ENCODABLE'],
      ];
      for (const [schedule, code] of cases) {
        assert.throws(
          () => new Scheduler({ broker, schedules: [schedule as never] }),
          (e: unknown) => codeOf(e) === code,
          code,
        );
      }
      const scheduler = new Scheduler({ broker, schedules: [{ id: 'x', task: add, cron: '@hourly' }] });
      await scheduler.close();
      assert.throws(
        () => scheduler.start(),
        (e: unknown) => codeOf(e) === 'SKEIN_TASKS_CLOSED',
      );
    });
  });
}
