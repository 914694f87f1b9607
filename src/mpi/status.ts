// The status of a received or probed message: who sent it, with which tag, and how many bytes it
// carried (the codec's bytes for a value, the typed array's bytes on the buffer path).

import { ANY_SOURCE, ANY_TAG } from './constants.ts';
import { dtypeName } from './typed.ts';

export class Status {
  /** The sender's rank in the communicator the message was received on. */
  source: number = ANY_SOURCE;
  tag: number = ANY_TAG;
  /** Payload bytes. */
  size = 0;
  /** 'value' for a codec message, else the typed array's constructor name. */
  type = 'value';

  /** @internal */
  set(source: number, tag: number, size: number, dtype: number): this {
    this.source = source;
    this.tag = tag;
    this.size = size;
    this.type = dtypeName(dtype);
    return this;
  }
}
