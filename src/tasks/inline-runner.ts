// Jobs run in the worker's own thread (Celery's "solo" pool, BullMQ's in-process processor): no thread
// hop, for I/O-bound async tasks. A synchronous task blocks the worker's event loop while it runs (lease
// extension included), so keep CPU-heavy tasks on a pool. Time limits and cancellation abort the task's
// signal and settle the attempt at once, whether or not the task looks at its signal.

import { TimeoutError } from '../errors.ts';
import type { Executor, RunOptions } from '../pool/executor.ts';
import { type Task, type TaskContext, taskContextStorage } from '../task.ts';

/** What a worker needs of a pool: run one task, and close. */
export type JobRunner = Pick<Executor, 'submit' | 'close'>;

export function inlineRunner(): JobRunner {
  return {
    submit: (task, args, options) => runInline(task as Task<unknown[], unknown>, args, options) as never,
    close: async () => {},
  };
}

async function runInline(
  task: Task<unknown[], unknown>,
  args: unknown[],
  options: RunOptions = {},
): Promise<unknown> {
  const controller = new AbortController();
  const { promise: stopped, reject } = Promise.withResolvers<never>();
  const stop = (reason: unknown): void => {
    controller.abort(reason);
    reject(reason);
  };
  const outer = options.signal;
  const onAbort = (): void => stop(outer?.reason);
  if (outer?.aborted === true) onAbort();
  else outer?.addEventListener('abort', onAbort, { once: true });
  const timeout = options.timeout;
  const timer =
    timeout !== undefined && Number.isFinite(timeout)
      ? setTimeout(
          () => stop(new TimeoutError(`The job did not finish within its time limit of ${timeout} ms`)),
          timeout,
        )
      : undefined;
  const signal = controller.signal;
  const context: TaskContext = {
    signal,
    get cancelled() {
      return signal.aborted;
    },
    throwIfCancelled() {
      if (signal.aborted) throw signal.reason;
    },
    progress: (value) => options.onProgress?.(value),
    workerId: -1,
  };
  try {
    const running = taskContextStorage.run(context, () => task.fn(...args));
    return await Promise.race([running, stopped]);
  } finally {
    clearTimeout(timer);
    outer?.removeEventListener('abort', onAbort);
  }
}
