// Argument checks of ProcessQueue and ProcessPipe, run in the caller before anything travels, with the
// channel layer's code (SKEIN_CHANNEL_INVALID_ARGUMENT) and messages that name the value and the way out.

import { InvalidArgumentError, SkeinError } from '../../errors.ts';
import { planWait, type WaitOptions, type WaitPlan } from '../../sync/wait.ts';

export function invalid(message: string): InvalidArgumentError {
  return new InvalidArgumentError('SKEIN_CHANNEL_INVALID_ARGUMENT', message);
}

/** planWait with the channel's error code for a bad timeout or signal. */
export function planChannelCall(options: WaitOptions | undefined, what: string): WaitPlan {
  try {
    return planWait(options, what);
  } catch (error) {
    if (error instanceof SkeinError && error.code === 'SKEIN_SYNC_INVALID_ARGUMENT')
      throw invalid(error.message);
    throw error;
  }
}

export function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'object' && value !== null) return (value as object).constructor?.name ?? 'an object';
  return String(value);
}
