// The console's one way to reach the server: same-origin fetch with the token as a Bearer header.
// Errors come back as ApiError with the server's stable code, so views show the message the API wrote.
// Event streams are read with fetch too (EventSource cannot send the header), through lib/sse.ts.

import type { ErrorResponse } from '../../src/cloud/api/schemas.ts';
import { type SseFrame, SseParser } from './lib/sse.ts';

const TOKEN_KEY = 'skein.console.token';

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

let token: string | null = null;
const listeners = new Set<() => void>();

/** The token in use: this tab's (sessionStorage), or one remembered on this device (localStorage). */
export function currentToken(): string | null {
  if (token !== null) return token;
  try {
    token = sessionStorage.getItem(TOKEN_KEY) ?? localStorage.getItem(TOKEN_KEY);
  } catch {
    token = null;
  }
  return token;
}

export function setToken(value: string | null, remember = false): void {
  token = value;
  try {
    sessionStorage.removeItem(TOKEN_KEY);
    localStorage.removeItem(TOKEN_KEY);
    if (value !== null) (remember ? localStorage : sessionStorage).setItem(TOKEN_KEY, value);
  } catch {
    // Storage refused (private mode): the token lives in this page only.
  }
  for (const listener of listeners) listener();
}

/** Called when the token changes (login, logout, a 401). */
export function onTokenChange(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function headers(body: boolean): Record<string, string> {
  const value = currentToken();
  return {
    ...(value === null ? {} : { authorization: `Bearer ${value}` }),
    ...(body ? { 'content-type': 'application/json' } : {}),
    accept: 'application/json',
  };
}

async function errorOf(response: Response): Promise<ApiError> {
  const text = await response.text().catch(() => '');
  try {
    const body = JSON.parse(text) as Partial<ErrorResponse>;
    if (typeof body.code === 'string' && typeof body.message === 'string') {
      return new ApiError(response.status, body.code, body.message);
    }
  } catch {
    // Not the API's JSON error: say what came back.
  }
  return new ApiError(
    response.status,
    'HTTP',
    `${response.status} ${response.statusText}: ${text.slice(0, 200)}`,
  );
}

/** One API call; JSON in and out. A 401 forgets the token (the login page shows again). */
export async function api<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  const response = await fetch(path, {
    method,
    headers: headers(body !== undefined),
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    ...(signal === undefined ? {} : { signal }),
  });
  if (!response.ok) {
    const error = await errorOf(response);
    if (response.status === 401 && currentToken() !== null) setToken(null);
    throw error;
  }
  return (await response.json()) as T;
}

export const get = <T>(path: string, signal?: AbortSignal) => api<T>('GET', path, undefined, signal);
export const post = <T>(path: string, body: unknown = {}) => api<T>('POST', path, body);
export const del = <T>(path: string) => api<T>('DELETE', path);

/**
 * Reads an event stream until `signal` aborts or the server ends it; each frame goes to `onFrame`
 * (comments as event ''). Resolves when the stream ends; rejects with ApiError on an error answer.
 */
export async function readEvents(
  path: string,
  onFrame: (frame: SseFrame) => void,
  signal: AbortSignal,
): Promise<void> {
  const response = await fetch(path, {
    headers: { ...headers(false), accept: 'text/event-stream' },
    signal,
    cache: 'no-store',
  });
  if (!response.ok || response.body === null) {
    const error = await errorOf(response);
    if (response.status === 401 && currentToken() !== null) setToken(null);
    throw error;
  }
  const parser = new SseParser();
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      for (const frame of parser.push(value)) onFrame(frame);
    }
  } finally {
    reader.releaseLock();
  }
}

/** Human text of anything thrown. */
export function messageOf(error: unknown): string {
  if (error instanceof ApiError) return `${error.message} (${error.code})`;
  if (error instanceof Error) return error.message;
  return String(error);
}
