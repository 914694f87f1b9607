// Retry timing, as a pure function of the policy, the number of failed attempts and a random source:
// fixed or exponential growth, capped at maxDelay, then jittered (full or equal) so jobs that failed
// together do not all come back at the same instant.

import type { ResolvedBackoff } from './options.ts';

/**
 * Milliseconds to wait before the next attempt after `failures` failed attempts (1 after the first).
 * @example
 * backoffDelay({ type: 'exponential', delay: 1000, maxDelay: 60000, jitter: 'none' }, 3); // 4000
 */
export function backoffDelay(
  policy: ResolvedBackoff,
  failures: number,
  random: () => number = Math.random,
): number {
  const exponent = Math.max(0, failures - 1);
  // 2 ** 1100 is Infinity, which Math.min caps; no overflow into NaN.
  const grown = policy.type === 'fixed' ? policy.delay : policy.delay * 2 ** exponent;
  const capped = Math.min(grown, policy.maxDelay);
  switch (policy.jitter) {
    case 'full':
      return Math.round(random() * capped);
    case 'equal':
      return Math.round(capped / 2 + (random() * capped) / 2);
    default:
      return Math.round(capped);
  }
}

/** Epoch ms of the next attempt after `failures` failed attempts, counted from `now`. */
export function nextRetryAt(
  policy: ResolvedBackoff,
  failures: number,
  now: number,
  random: () => number = Math.random,
): number {
  return now + backoffDelay(policy, failures, random);
}
