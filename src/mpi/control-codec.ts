// Encodes a rank's control message; a result or error the codec cannot carry becomes a failure report
// that says so, instead of an exception in the rank's last step.

import { encode } from '../codec/index.ts';
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
