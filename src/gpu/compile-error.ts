// Turns Dawn's compilation messages into a KernelCompileError that points into the source the user
// wrote: the kernel's WGSL, or for a generated kernel the expression it was generated from (through
// a SourceMap the generator returns with the WGSL).

import { KernelCompileError } from '../errors.ts';

/** A place in the user's text. */
export interface SourcePosition {
  readonly line: number;
  readonly column: number;
  readonly sourceLine: string;
}

/**
 * Maps a 1-based (line, column) of the generated WGSL back to the user's text, or undefined when the
 * position lies in code the generator wrote around it.
 */
export type SourceMap = (line: number, column: number) => SourcePosition | undefined;

export interface CompileMessage {
  readonly type: string;
  readonly message: string;
  readonly lineNum: number;
  readonly linePos: number;
}

function caretLine(sourceLine: string, column: number): string {
  // Tabs stay tabs so the caret lines up however the terminal draws them.
  const lead = sourceLine.slice(0, Math.max(0, column - 1)).replace(/[^\t]/g, ' ');
  return `${lead}^`;
}

/** The error for the first error message of a failed compile, with every error message listed. */
export function compileError(
  kernel: string,
  source: string,
  messages: readonly CompileMessage[],
  map: SourceMap | undefined,
): KernelCompileError {
  const errors = messages.filter((message) => message.type === 'error');
  const first = errors[0] ?? messages[0];
  if (first === undefined) {
    return new KernelCompileError(`kernel "${kernel}" failed to compile, and Dawn gave no message`, {
      kernel,
    });
  }
  const lines = source.split('\n');
  const mapped = map?.(first.lineNum, first.linePos);
  const position: SourcePosition = mapped ?? {
    line: first.lineNum,
    column: first.linePos,
    sourceLine: lines[first.lineNum - 1] ?? '',
  };
  const where =
    mapped === undefined && map !== undefined ? ' (in code generated around your expression)' : '';
  const others = errors.slice(1).map((message) => {
    const at = map?.(message.lineNum, message.linePos) ?? { line: message.lineNum, column: message.linePos };
    return `\n  also ${at.line}:${at.column}: ${message.message}`;
  });
  return new KernelCompileError(
    `kernel "${kernel}" failed to compile: ${position.line}:${position.column}: ${first.message}${where}\n` +
      `  ${position.sourceLine}\n  ${caretLine(position.sourceLine, position.column)}${others.join('')}`,
    { kernel, line: position.line, column: position.column, sourceLine: position.sourceLine },
  );
}
