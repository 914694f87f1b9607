// Every cookbook recipe of chapters 1, 2, 3, 5, 6 and 9 runs as a real program with its short sizes,
// and its output says what the recipe promises: sums equal, orders hold, the deadlock is reported with
// its owner, the race loses increments and its fix none. Two recipes run at a time (2-core budget).

import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { test } from 'node:test';
import { ROOT, runRecipe } from './run-recipe.ts';

const CHAPTERS = ['getting-started', 'threads', 'processes', 'async', 'distributed', 'debugging'];

/** The line matching `pattern` (exactly one), with its groups. */
function line(lines: readonly string[], pattern: RegExp): RegExpMatchArray {
  const found = lines.map((l) => l.match(pattern)).filter((m) => m !== null);
  assert.equal(found.length, 1, `one line matching ${pattern} in:\n${lines.join('\n')}`);
  return found[0]!;
}

const n = (text: string | undefined): number => Number(text);

/** Phases along a log like "1:0 1:2 2:1 …" never go down: nobody entered phase k+1 early. */
function assertPhasesOrdered(order: string, parties: number, phases: number): void {
  const entries = order.split(' ').map((e) => e.split(':').map(Number) as [number, number]);
  assert.equal(entries.length, parties * phases, order);
  for (let i = 1; i < entries.length; i++) assert.ok(entries[i]![0] >= entries[i - 1]![0], order);
  for (let phase = 1; phase <= phases; phase++) {
    const who = entries.filter(([p]) => p === phase).map(([, t]) => t);
    assert.deepEqual(
      who.sort(),
      Array.from({ length: parties }, (_, t) => t),
      `phase ${phase}: ${order}`,
    );
  }
}

const CHECKS: Record<string, (lines: string[]) => void> = {
  'getting-started/serial-threads-processes.ts': (lines) => {
    const counts = ['serial', 'threads', 'processes'].map((name) => {
      const m = line(lines, new RegExp(`^${name}: (\\d+) primes in [\\d.]+ ms, speedup [\\d.]+x$`));
      return n(m[1]);
    });
    assert.deepEqual(counts, [25997, 25997, 25997]); // π(300000)
    line(lines, /^all three agree$/);
  },

  'threads/define-threads.ts': (lines) => {
    line(lines, /^main thread: threadId 0, workerId -1$/);
    const threads = lines
      .filter((l) => l.startsWith('thread '))
      .map((l) => l.match(/^thread cookbook-(\d+): threadId (\d+), workerId (\d+)$/));
    assert.equal(threads.length, 3, lines.join('\n'));
    for (const m of threads) {
      assert.ok(m !== null, lines.join('\n'));
      assert.equal(m[1], m[3], 'a thread is named <pool name>-<workerId>');
      assert.ok(n(m[2]) > 0, 'not the main thread');
    }
    assert.equal(new Set(threads.map((m) => m![2])).size, 3);
    line(lines, /^3 distinct threads, none of them main$/);
  },
  'threads/thread-class.ts': (lines) => {
    const m = line(lines, /^acc lives in thread (\d+) with total 55$/);
    assert.ok(n(m[1]) > 0);
    line(lines, /^total 55 \(expected 55\); main thread is 0$/);
  },
  'threads/lock.ts': (lines) => {
    line(lines, /^counter 40000 \(expected 40000\)$/);
  },
  'threads/rlock.ts': (lines) => {
    line(lines, /^sum 15, held 6 times at the deepest level, free after: true$/);
    line(lines, /^a plain Lock taken twice: SKEIN_SYNC_WOULD_DEADLOCK$/);
  },
  'threads/semaphore.ts': (lines) => {
    const m = line(lines, /^4 threads, 2 slots: at most (\d) inside at once$/);
    assert.ok(n(m[1]) >= 1 && n(m[1]) <= 2, m[0]);
  },
  'threads/condition.ts': (lines) => {
    line(lines, /^produced 1000 items, consumed sum 500500 \(expected 500500\)$/);
  },
  'threads/event.ts': (lines) => {
    line(lines, /^3 threads waiting; event set: false$/);
    line(lines, /^event set; 3 of 3 threads woke after it$/);
  },
  'threads/barrier.ts': (lines) => {
    assertPhasesOrdered(line(lines, /^order: (.*)$/)[1]!, 3, 3);
    line(lines, /^every thread finished each phase before any began the next: true$/);
  },
  'threads/queue.ts': (lines) => {
    const m = line(
      lines,
      /^(\d+) \+ (\d+) = 10000 jobs; sum of squares 333383335000 \(expected 333383335000\)$/,
    );
    assert.equal(n(m[1]) + n(m[2]), 10000);
  },

  'processes/spawn.ts': (lines) => {
    const main = n(line(lines, /^main process: pid (\d+)$/)[1]);
    const spawned = line(
      lines,
      /^spawned cookbook-(\d+): pid (\d+) \(not main: true\), workerId (\d+), named cookbook-(\d+)$/,
    );
    assert.equal(
      spawned[1],
      spawned[3],
      'the diagnostics channel names the pool and the worker that ran the task',
    );
    assert.equal(spawned[4], spawned[3], 'the process is named after its pool and worker id');
    const child = n(spawned[2]);
    assert.notEqual(child, main);
    line(lines, /^background job started; main goes on$/);
    line(lines, /^background job answered 42$/);
    line(lines, /^killed: SKEIN_ABORTED$/);
    const after = n(line(lines, /^the pool still answers after the kill: pid (\d+)$/)[1]);
    assert.notEqual(after, main);
    assert.ok(
      lines.indexOf('background job started; main goes on') < lines.indexOf('background job answered 42'),
    );
  },
  'processes/process-class.ts': (lines) => {
    const m = line(lines, /^in process (\d+) \(main is (\d+)\): the=4 dog=2 fox=2$/);
    assert.notEqual(m[1], m[2]);
  },
  'processes/queue-pipe.ts': (lines) => {
    const m = line(
      lines,
      /^queue: 0:ALPHA 1:BETA 2:GAMMA 3:DELTA 4:EPSILON 5:ZETA \(children handled (\d+) \+ (\d+)\)$/,
    );
    assert.equal(n(m[1]) + n(m[2]), 6);
    line(lines, /^pipe: sent 1 2 3, got back 2 4 6$/);
  },
  'processes/barrier-lock.ts': (lines) => {
    assertPhasesOrdered(line(lines, /^order: (.*)$/)[1]!, 3, 2);
    line(lines, /^all phase 1 before any phase 2: true$/);
    line(lines, /^counter 120 \(expected 120\)$/);
  },
  'processes/process-pool.ts': (lines) => {
    line(lines, /^map: first 1 4 9 16 25; sum 333833500$/);
    line(lines, /^starmap: 1024 27 100$/);
    line(lines, /^imapUnordered: sum 333833500 \(expected 333833500\)$/);
  },

  'async/futures.ts': (lines) => {
    // Completion order follows the naps (10, 150, 300 ms on three warm threads); a stalled host could
    // swap the two long ones, never put them before the 10 ms one.
    const order = line(lines, /^asCompleted: (\d+) (\d+) (\d+)$/)
      .slice(1)
      .map(Number);
    assert.equal(order[0], 10);
    assert.deepEqual(
      [...order].sort((a, b) => a - b),
      [10, 150, 300],
    );
    line(lines, /^wait firstCompleted: 1 done, 1 not done$/);
    line(lines, /^wait firstException: 1 done \(bad nap -1\), 1 not done$/);
    line(lines, /^wait allCompleted: 3 done, 0 not done$/);
  },
  'async/event-loop.ts': (lines) => {
    line(lines, /^synchronous code -> microtask -> call_soon \(setImmediate\) -> call_later\(10 ms\)$/);
  },
  'async/coroutines.ts': (lines) => {
    line(lines, /^gather: a b c$/);
    line(lines, /^cancel: AbortError$/);
    line(lines, /^timeout: AbortError$/);
    line(lines, /^cancel on a thread: SKEIN_ABORTED$/);
    line(lines, /^timeout on a thread: SKEIN_TIMEOUT$/);
  },
  'async/futures-across-threads.ts': (lines) => {
    const m = line(lines, /^timer ticks while 200 ms of work ran inline: (\d+); on a thread: (\d+)$/);
    assert.equal(n(m[1]), 0, 'inline work blocks the event loop: no tick can run');
    assert.ok(n(m[2]) > 0, 'work on a thread leaves the event loop free');
  },

  'distributed/celery-tasks.ts': (lines) => {
    line(lines, /^add: 5$/);
    line(lines, /^chain: 10$/);
    line(lines, /^chord: 20$/);
    line(lines, /^retry: answered on attempt 3$/);
    line(lines, /^schedule: heartbeat fired, its job returned tick$/);
  },
  'distributed/actor-chain.ts': (lines) => {
    const main = line(lines, /^main is pid (\d+); the objects forwarded 2, 2, 2 messages$/)[1];
    const paths = ['first', 'second'].map((text) =>
      line(lines, new RegExp(`^${text}: A@(\\d+) -> B@(\\d+) -> C@(\\d+)$`)).slice(1),
    );
    assert.deepEqual(paths[0], paths[1]);
    assert.equal(new Set(paths[0]).size, 3, 'each object in its own process');
    assert.ok(!paths[0]!.includes(main!));
  },
  'distributed/socket-file-transfer.ts': (lines) => {
    line(lines, /^sent 1048576 bytes over TCP \(127\.0\.0\.1:\d+\); the server stored 1048576 bytes$/);
    line(lines, /^sha256 match: true$/);
  },

  'debugging/trace.ts': (lines) => {
    const m = line(lines, /^(\d+) task spans on (\d+) workers, (\d+) queued spans$/);
    assert.equal(n(m[1]), 12);
    assert.ok(n(m[2]) >= 1 && n(m[2]) <= 2);
    const events = n(line(lines, /^wrote (\d+) trace events; open it in https:\/\/ui\.perfetto\.dev$/)[1]);
    assert.ok(events >= 12, `at least one event per task (${events})`);
  },
  'debugging/deadlock.ts': (lines) => {
    const reports = lines.filter((l) => l.startsWith('thread '));
    assert.equal(reports.length, 2);
    const ids = reports.map((l) => l.match(/^thread (\d+) /)![1]);
    // The impatient thread gives up, naming the thread that holds the lock it wanted (the other); its
    // release then lets the patient one take both.
    const m = reports[0]!.match(
      /^thread (\d+) \(a then b\) gave up: SKEIN_TIMEOUT: Lock acquire did not succeed within 500 ms \(held by thread (\d+)\)$/,
    );
    assert.ok(m !== null, reports.join('\n'));
    assert.equal(m[2], ids[1], `the owner named is the other thread: ${reports[0]}`);
    assert.match(reports[1]!, /^thread \d+ \(b then a\) got both locks$/);
    line(lines, /^fix: take the locks in one global order/);
  },
  'debugging/race.ts': (lines) => {
    const racy = line(lines, /^read-then-write: (\d+) of 400000, (\d+) increments lost \(round \d+\)$/);
    assert.ok(n(racy[2]) > 0, 'the race loses increments');
    assert.equal(n(racy[1]) + n(racy[2]), 400000);
    line(lines, /^Atomics\.add: 400000 of 400000, 0 increments lost$/);
  },
  'debugging/testing.ts': (lines) => {
    line(lines, /^✔ two consumers take every item exactly once, in every round/);
    line(lines, /^ℹ pass 1$/);
    line(lines, /^ℹ fail 0$/);
  },
};

test('every recipe of chapters 1, 2, 3, 5, 6 and 9 has a check here', async () => {
  const files: string[] = [];
  for (const chapter of CHAPTERS) {
    for (const file of await readdir(`${ROOT}examples/${chapter}`))
      if (file.endsWith('.ts')) files.push(`${chapter}/${file}`);
  }
  assert.deepEqual(files.sort(), Object.keys(CHECKS).sort());
});

test('every recipe runs with its short sizes and prints what it promises', { concurrency: 2 }, async (t) => {
  for (const [recipe, check] of Object.entries(CHECKS)) {
    void t.test(recipe, async () => {
      const { code, lines, stderr } = await runRecipe(recipe);
      assert.equal(code, 0, `exit ${code}; stderr:\n${stderr}\nstdout:\n${lines.join('\n')}`);
      check(lines);
    });
  }
});
