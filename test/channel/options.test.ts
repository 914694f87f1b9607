// Channel options (src/channel/options.ts): every invalid option is refused with
// SKEIN_CHANNEL_INVALID_ARGUMENT and a message naming it, the value and the way out; the defaults are
// frozen tables; and each TSDoc @defaultValue says what the resolvers really give.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import {
  PIPE_DEFAULTS,
  Pipe,
  QUEUE_DEFAULTS,
  Queue,
  resolvePipeOptions,
  resolveQueueOptions,
} from '../../src/channel/index.ts';
import { InvalidArgumentError } from '../../src/errors.ts';

const BAD_QUEUE_OPTIONS: readonly [unknown, string][] = [
  [null, 'options'],
  ['big', 'options'],
  [{ capacity: 0 }, 'capacity'],
  [{ capacity: -1 }, 'capacity'],
  [{ capacity: 1.5 }, 'capacity'],
  [{ capacity: '10' }, 'capacity'],
  [{ capacity: 2 ** 31 }, 'capacity'],
  [{ bufferBytes: 63 }, 'bufferBytes'],
  [{ bufferBytes: 2 ** 30 + 1 }, 'bufferBytes'],
  [{ bufferBytes: 100.5 }, 'bufferBytes'],
  [{ order: 'random' }, 'order'],
];

for (const [options, path] of BAD_QUEUE_OPTIONS) {
  test(`new Queue(${JSON.stringify(options)}) is refused naming ${path}`, () => {
    assert.throws(
      () => new Queue(options as never),
      (error: unknown) => {
        assert.ok(error instanceof InvalidArgumentError);
        assert.equal(error.code, 'SKEIN_CHANNEL_INVALID_ARGUMENT');
        assert.ok(error.message.startsWith(`${path} must be `), error.message);
        assert.match(error.message, /\(got .+\); \S/, 'the message shows the value and the way out');
        return true;
      },
    );
  });
}

for (const [options, path] of [
  [null, 'options'],
  [{ duplex: 1 }, 'duplex'],
  [{ bufferBytes: 8 }, 'bufferBytes'],
] as const) {
  test(`Pipe(${JSON.stringify(options)}) is refused naming ${path}`, () => {
    assert.throws(
      () => Pipe(options as never),
      (error: unknown) => {
        assert.ok(error instanceof InvalidArgumentError);
        assert.ok(error.message.startsWith(`${path} must be `), error.message);
        return true;
      },
    );
  });
}

test('the resolvers fill in the frozen defaults, round bufferBytes up to 8 and freeze the result', () => {
  assert.ok(Object.isFrozen(QUEUE_DEFAULTS) && Object.isFrozen(PIPE_DEFAULTS));
  assert.deepEqual(resolveQueueOptions(), QUEUE_DEFAULTS);
  assert.deepEqual(resolvePipeOptions({}), PIPE_DEFAULTS);
  const resolved = resolveQueueOptions({ capacity: 3, bufferBytes: 100, order: 'priority' });
  assert.deepEqual(resolved, { capacity: 3, bufferBytes: 104, order: 'priority' });
  assert.ok(Object.isFrozen(resolved));
  assert.equal(new Queue({ capacity: Number.POSITIVE_INFINITY }).options.capacity, Number.POSITIVE_INFINITY);
});

test('each @defaultValue in the channel options docs is what the defaults hold', () => {
  const source = readFileSync(new URL('../../src/channel/options.ts', import.meta.url), 'utf8');
  let compared = 0;
  for (const defaults of [QUEUE_DEFAULTS, PIPE_DEFAULTS]) {
    for (const [key, value] of Object.entries(defaults)) {
      const shown =
        typeof value === 'string'
          ? `'${value}'`
          : value === Number.POSITIVE_INFINITY
            ? 'Infinity'
            : String(value);
      // bufferBytes is documented on both interfaces with different defaults: match either.
      const docs = [
        ...source.matchAll(new RegExp(`@defaultValue ([^*\\n]+?)\\s*\\*/\\s*readonly ${key}\\?`, 'g')),
      ].map((match) => `${match[1]}`.trim());
      assert.ok(
        docs.includes(shown),
        `@defaultValue of ${key}: documented ${docs.join(', ')}, default ${shown}`,
      );
      compared++;
    }
  }
  assert.equal(compared, 5);
});
