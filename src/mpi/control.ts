// Messages between a rank and its launcher (the control plane; data never goes this way): the rank
// reports what it is blocked on, its result or its failure; the launcher sends peer addresses, aborts
// and the final go-ahead to exit. Encoded with skein/codec so errors keep their class, code and fields.

import type { ActivityState } from './activity.ts';

export type RankMessage =
  | ({ readonly type: 'state' } & ActivityState)
  | { readonly type: 'ready'; readonly address: string }
  | { readonly type: 'done'; readonly result: unknown }
  | { readonly type: 'failed'; readonly error: unknown; readonly viaAbort: boolean };

export type LauncherMessage =
  | { readonly type: 'peers'; readonly addresses: readonly string[] }
  | { readonly type: 'abort'; readonly error: Error }
  | { readonly type: 'finalize' };

/** A rank's end of the control plane. */
export interface ControlLink {
  send(message: RankMessage): void;
  onMessage(handler: (message: LauncherMessage) => void): void;
  close(): void;
}
