// Spans for tracing parallel work, and their export as a Chrome/Perfetto trace (chrome://tracing,
// ui.perfetto.dev). Spans are plain data so they can cross threads and be written as JSON.

export type { ChromeTraceEvent, Span, SpanKind } from './span.ts';
export { SpanRecorder, toChromeTrace, writeChromeTrace } from './span.ts';
