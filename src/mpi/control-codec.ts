// Encodes a rank's control message; a result or error the codec cannot carry becomes a failure report
// that says so, instead of an exception in the rank's last step.

import { encode } from '../codec/index.ts';
import { errorFromCode, SkeinError } from '../errors.ts';
import type { RankMessage } from './control.ts';

export function encodeRankMessage(message: RankMessage): Uint8Array {
  try {
    return encode(message);
  } catch (error) {
    if (message.type === 'failed') {
      const original = message.error;
      return encode({
        type: 'failed',
        viaAbort: message.viaAbort,
        error: new Error(
          original instanceof Error ? `${original.name}: ${original.message}` : String(original),
        ),
      });
    }
    return encode({ type: 'failed', viaAbort: false, error });
  }
}

/**
 * The error as it can travel to ranks: itself when the codec carries it, else the same code, message
 * and fields with its cause flattened to a plain Error (a cause of a foreign class, say one rebuilt by
 * worker_threads, is not codec data).
 */
export function portableError(error: Error): Error {
  try {
    encode(error);
    return error;
  } catch {
    const cause = (error as { cause?: unknown }).cause;
    const plainCause =
      cause instanceof Error
        ? Object.assign(new Error(`${cause.name}: ${cause.message}`), { stack: cause.stack })
        : String(cause);
    if (error instanceof SkeinError) {
      const fields: Record<string, unknown> = { cause: plainCause };
      for (const key of Object.keys(error))
        if (key !== 'code' && key !== 'cause')
          fields[key] = (error as unknown as Record<string, unknown>)[key];
      return errorFromCode(error.code, error.message, fields);
    }
    return new Error(`${error.name}: ${error.message}`, { cause: plainCause });
  }
}
