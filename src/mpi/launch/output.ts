// Per-rank output: split a rank's stdout or stderr stream into lines and write each with the rank's
// prefix (or hand it to a callback), so lines of different ranks never interleave mid-line.

import type { Readable } from 'node:stream';
import type { OutputMode } from '../options.ts';

export function forwardOutput(
  stream: Readable,
  rank: number,
  which: 'stdout' | 'stderr',
  mode: OutputMode,
): Promise<void> {
  const out = which === 'stdout' ? process.stdout : process.stderr;
  if (mode === 'inherit') {
    stream.pipe(out, { end: false });
    return new Promise((resolve) => stream.once('end', resolve).once('close', resolve));
  }
  const emit =
    typeof mode === 'function'
      ? (line: string) => mode(line, rank, which)
      : (line: string) => out.write(`[${rank}] ${line}\n`);
  let rest = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    const lines = (rest + chunk).split('\n');
    rest = lines.pop()!;
    for (const line of lines) emit(line);
  });
  return new Promise((resolve) => {
    const finish = (): void => {
      if (rest !== '') emit(rest);
      rest = '';
      resolve();
    };
    stream.once('end', finish).once('close', finish);
  });
}
