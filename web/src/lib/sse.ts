// Server-Sent Events framing for streams read with fetch (EventSource cannot send an Authorization
// header): bytes in, whole events out. Comments (`: ready`, keep-alives) come out as comment frames so
// the caller can tell a subscribed stream from one still connecting.

export interface SseFrame {
  /** The event name; 'message' when the frame named none; '' for a comment line. */
  readonly event: string;
  readonly data: string;
  readonly id: string | undefined;
}

/** Incremental parser: push text as it arrives, get the frames it completed. */
export class SseParser {
  #buffer = '';

  push(text: string): SseFrame[] {
    this.#buffer += text.replace(/\r\n?/g, '\n');
    const frames: SseFrame[] = [];
    for (;;) {
      const end = this.#buffer.indexOf('\n\n');
      if (end < 0) break;
      const block = this.#buffer.slice(0, end);
      this.#buffer = this.#buffer.slice(end + 2);
      const frame = parseBlock(block);
      if (frame !== undefined) frames.push(frame);
    }
    return frames;
  }
}

function parseBlock(block: string): SseFrame | undefined {
  let event = 'message';
  let id: string | undefined;
  const data: string[] = [];
  let comment = false;
  let fields = 0;
  for (const line of block.split('\n')) {
    if (line === '') continue;
    if (line.startsWith(':')) {
      comment = true;
      continue;
    }
    const colon = line.indexOf(':');
    const name = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    fields++;
    if (name === 'event') event = value;
    else if (name === 'data') data.push(value);
    else if (name === 'id') id = value;
  }
  if (fields === 0) return comment ? { event: '', data: '', id: undefined } : undefined;
  return { event, data: data.join('\n'), id };
}
