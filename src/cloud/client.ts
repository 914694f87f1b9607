// A typed client of the cloud API over Node's fetch: what the CLI uses, and what a program may use.
// An error answer becomes a SkeinError with the server's code only when that code is one of ours (an
// allow-list: docs/errors.md; the status is in `statusCode`); anything else is SKEIN_CLOUD_UNREACHABLE.

import { join } from 'node:path';
import { ERROR_CODES, errorFromCode, InvalidArgumentError, SkeinError } from '../errors.ts';
import type { BrokerEvent, JobState } from '../tasks/index.ts';
import type { AgentView, MpiPlacement, MpiPlacementHost } from './api/agent-wire.ts';
import type { LogEndView, LogLineView, LogPageView } from './api/log-schemas.ts';
import type { ScheduleDetailView, ScheduleRequest, ScheduleView } from './api/schedule-schemas.ts';
import type {
  AsyncInvokeView,
  CancelView,
  CreatedTokenView,
  DeploymentView,
  DeployRequestBody,
  ErrorResponse,
  FunctionView,
  JobEventView,
  JobListView,
  JobView,
  SubmitRequest,
  TokenView,
} from './api/schemas.ts';
import type { TokenScope } from './cloud-store.ts';
import { readCredentials } from './credentials.ts';

export interface CloudClientOptions {
  /** The server URL, e.g. http://127.0.0.1:7420. */
  readonly server: string;
  /** A bearer token. */
  readonly token: string;
}

export interface CallOptions {
  readonly signal?: AbortSignal;
}

/**
 * Calls the Skein cloud API.
 * @example
 * const client = new CloudClient({ server: 'http://127.0.0.1:7420', token });
 * const { id } = await client.submit({ module: 'tasks.ts', export: 'add', args: [1, 2] });
 * const job = await client.job(id, { wait: 30_000 });
 */
/** OpenSSL's codes for a certificate chain this machine does not trust, or one not made for the host. */
const UNTRUSTED_CERTIFICATE =
  /^(?:DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT(?:_LOCALLY)?|CERT_UNTRUSTED|ERR_TLS_CERT_ALTNAME_INVALID)$/;

export class CloudClient {
  readonly server: string;
  readonly #token: string;

  /**
   * A client for the cloud given by `server` and `token`, else by SKEIN_SERVER and SKEIN_TOKEN, else by
   * what `skein up` saved in `<dir>/.skein/credentials.json` (dir: the working directory). The CLI and
   * programs find a cloud the same way.
   * @throws SKEIN_CLOUD_NO_CREDENTIALS when none of them gives both; SKEIN_CLOUD_INVALID_OPTION
   */
  static async connect(
    options: { readonly server?: string; readonly token?: string; readonly dir?: string } = {},
  ): Promise<CloudClient> {
    let server = options.server ?? process.env.SKEIN_SERVER;
    let token = options.token ?? process.env.SKEIN_TOKEN;
    if (server === undefined || server === '' || token === undefined || token === '') {
      const saved = await readCredentials(join(options.dir ?? process.cwd(), '.skein'));
      server = server || saved?.server;
      token = token || saved?.token;
    }
    if (server === undefined || server === '' || token === undefined || token === '') {
      throw new SkeinError(
        'SKEIN_CLOUD_NO_CREDENTIALS',
        `no ${server ? 'token' : 'server URL'}: run this in the directory where skein up runs (it saves .skein/credentials.json), or pass --server and --token (or set SKEIN_SERVER and SKEIN_TOKEN)`,
      );
    }
    return new CloudClient({ server, token });
  }

  /** @throws SKEIN_CLOUD_INVALID_OPTION */
  constructor(options: CloudClientOptions) {
    let url: URL;
    try {
      url = new URL(options.server);
    } catch {
      throw new InvalidArgumentError(
        'SKEIN_CLOUD_INVALID_OPTION',
        `server must be an http(s) URL such as http://127.0.0.1:7420 (got ${JSON.stringify(options.server)})`,
      );
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new InvalidArgumentError(
        'SKEIN_CLOUD_INVALID_OPTION',
        `server must be an http(s) URL (got ${JSON.stringify(options.server)})`,
      );
    }
    if (typeof options.token !== 'string' || options.token === '' || /\s/.test(options.token)) {
      throw new InvalidArgumentError(
        'SKEIN_CLOUD_INVALID_OPTION',
        'token must be a non-empty string without spaces; skein up printed one',
      );
    }
    this.server = url.origin;
    this.#token = options.token;
  }

  submit(request: SubmitRequest, options?: CallOptions): Promise<{ id: string; task: string }> {
    return this.#call('POST', '/api/jobs', request, options);
  }

  /** A job; with `wait` (ms), answers when it finished or when the wait ran out. */
  job(id: string, options: CallOptions & { readonly wait?: number } = {}): Promise<JobView> {
    const query = options.wait === undefined ? '' : `?wait=${options.wait}`;
    return this.#call('GET', `/api/jobs/${encodeURIComponent(id)}${query}`, undefined, options);
  }

  jobs(
    query: { readonly state?: JobState; readonly limit?: number; readonly offset?: number } = {},
    options?: CallOptions,
  ): Promise<JobListView> {
    const params = new URLSearchParams();
    if (query.state !== undefined) params.set('state', query.state);
    if (query.limit !== undefined) params.set('limit', String(query.limit));
    if (query.offset !== undefined) params.set('offset', String(query.offset));
    const text = params.toString();
    return this.#call('GET', `/api/jobs${text === '' ? '' : `?${text}`}`, undefined, options);
  }

  cancel(id: string, options?: CallOptions): Promise<CancelView> {
    return this.#call('POST', `/api/jobs/${encodeURIComponent(id)}/cancel`, undefined, options);
  }

  retry(id: string, options?: CallOptions): Promise<{ id: string; retried: boolean }> {
    return this.#call('POST', `/api/jobs/${encodeURIComponent(id)}/retry`, undefined, options);
  }

  /**
   * Creates a token; `tenant` absent: the caller's tenant (another one needs an operator token);
   * `expiresIn` (seconds) absent: valid until revoked.
   */
  createToken(
    name: string,
    scopes: readonly TokenScope[],
    options?: CallOptions & { readonly tenant?: string; readonly expiresIn?: number },
  ): Promise<CreatedTokenView> {
    const body = {
      name,
      scopes,
      ...(options?.tenant === undefined ? {} : { tenant: options.tenant }),
      ...(options?.expiresIn === undefined ? {} : { expiresIn: options.expiresIn }),
    };
    return this.#call('POST', '/api/tokens', body, options);
  }

  async tokens(options?: CallOptions): Promise<TokenView[]> {
    return (await this.#call<{ tokens: TokenView[] }>('GET', '/api/tokens', undefined, options)).tokens;
  }

  revokeToken(id: string, options?: CallOptions): Promise<TokenView> {
    return this.#call('DELETE', `/api/tokens/${encodeURIComponent(id)}`, undefined, options);
  }

  /** Every agent that registered, with its state (ready, busy, lost, stopped). */
  async agents(options?: CallOptions): Promise<AgentView[]> {
    return (await this.#call<{ agents: AgentView[] }>('GET', '/api/agents', undefined, options)).agents;
  }

  /**
   * Hosts for an MPI job of `ranks` ranks: the live agents with an MPI rank host, most free slots
   * first, as mpirun's `hosts` (skein mpirun --cloud). Needs a token that may deploy.
   * @throws SKEIN_CLOUD_NO_AGENT when no live agent runs one (skein worker --mpi-listen).
   */
  async mpiPlacement(ranks: number, options?: CallOptions): Promise<MpiPlacementHost[]> {
    return [...(await this.#call<MpiPlacement>('POST', '/api/mpi/placements', { ranks }, options)).hosts];
  }

  /** Uploads a bundle made by bundleModule() (skein deploy); its exported tasks become functions. */
  deploy(request: DeployRequestBody, options?: CallOptions): Promise<DeploymentView> {
    return this.#call('POST', '/api/deployments', request, options);
  }

  /** Every function: the version it runs now and every version it had. */
  async functions(options?: CallOptions): Promise<FunctionView[]> {
    return (await this.#call<{ functions: FunctionView[] }>('GET', '/api/functions', undefined, options))
      .functions;
  }

  /** Points a function at a bundle hash (or a 7+ character prefix of one) it had before. */
  rollback(name: string, hash: string, options?: CallOptions): Promise<FunctionView> {
    return this.#call('POST', `/api/functions/${encodeURIComponent(name)}/rollback`, { hash }, options);
  }

  /**
   * Calls a function and answers its result (JSON).
   * @throws SKEIN_CLOUD_FUNCTION_FAILED (the function's error rebuilt in `cause`), SKEIN_CLOUD_FUNCTION_TIMEOUT,
   * SKEIN_CLOUD_FUNCTION_BUSY (`retryAfter` in seconds), SKEIN_CLOUD_FUNCTION_NOT_FOUND
   */
  invoke(name: string, args: readonly unknown[] = [], options?: CallOptions): Promise<unknown> {
    return this.#call('POST', `/fn/${encodeURIComponent(name)}`, { args }, options);
  }

  /** Calls a function as a job: answers the job id at once (read it with job()). */
  invokeAsync(name: string, args: readonly unknown[] = [], options?: CallOptions): Promise<AsyncInvokeView> {
    return this.#call('POST', `/fn/${encodeURIComponent(name)}?async=1`, { args }, options);
  }

  /** Creates a schedule (deploy scope): a cron expression or an interval, and a task or a function. */
  createSchedule(request: ScheduleRequest, options?: CallOptions): Promise<ScheduleView> {
    return this.#call('POST', '/api/schedules', request, options);
  }

  /** Every schedule, with its state and next run. */
  async schedules(options?: CallOptions): Promise<ScheduleView[]> {
    return (await this.#call<{ schedules: ScheduleView[] }>('GET', '/api/schedules', undefined, options))
      .schedules;
  }

  /** One schedule with the latest `history` jobs it made (default 20), newest first. */
  schedule(
    name: string,
    options: CallOptions & { readonly history?: number } = {},
  ): Promise<ScheduleDetailView> {
    const query = options.history === undefined ? '' : `?history=${options.history}`;
    return this.#call('GET', `/api/schedules/${encodeURIComponent(name)}${query}`, undefined, options);
  }

  pauseSchedule(name: string, options?: CallOptions): Promise<ScheduleView> {
    return this.#call('POST', `/api/schedules/${encodeURIComponent(name)}/pause`, undefined, options);
  }

  resumeSchedule(name: string, options?: CallOptions): Promise<ScheduleView> {
    return this.#call('POST', `/api/schedules/${encodeURIComponent(name)}/resume`, undefined, options);
  }

  /** Removes a schedule and its history; the jobs it made stay. */
  removeSchedule(name: string, options?: CallOptions): Promise<ScheduleView> {
    return this.#call('DELETE', `/api/schedules/${encodeURIComponent(name)}`, undefined, options);
  }

  /**
   * Any route of the API: `body` is sent as JSON; the answer's JSON is returned, an error answer
   * thrown as for the other methods. What `skein worker` calls the agent routes with.
   */
  call<T>(
    method: 'GET' | 'POST' | 'DELETE',
    path: string,
    body?: unknown,
    options?: CallOptions,
  ): Promise<T> {
    return this.#call(method, path, body, options);
  }

  /**
   * The bytes a GET route answers (a deployed bundle: GET /api/bundles/<hash>), at most `maxBytes`; an
   * error answer is thrown as for the other methods.
   * @throws SKEIN_CLOUD_PAYLOAD_TOO_LARGE when the answer is longer than maxBytes
   */
  async download(path: string, maxBytes: number, options: CallOptions = {}): Promise<Uint8Array> {
    const response = await this.#fetch('GET', path, undefined, options.signal);
    if (!response.ok || response.body === null) throw await errorOf(response, this.server);
    const chunks: Uint8Array[] = [];
    let size = 0;
    for await (const chunk of response.body) {
      size += chunk.byteLength;
      if (size > maxBytes) {
        // Leaving the loop by a throw cancels the stream: the rest is not read.
        throw new SkeinError(
          'SKEIN_CLOUD_PAYLOAD_TOO_LARGE',
          `${this.server} answered ${path} with more than ${maxBytes} bytes`,
        );
      }
      chunks.push(chunk);
    }
    return Buffer.concat(chunks);
  }

  /** Lines a job printed after the cursor `after` (default 0: from the first kept), at most `limit`. */
  logs(
    id: string,
    query: { readonly after?: number; readonly limit?: number } = {},
    options?: CallOptions,
  ): Promise<LogPageView> {
    const params = new URLSearchParams();
    if (query.after !== undefined) params.set('after', String(query.after));
    if (query.limit !== undefined) params.set('limit', String(query.limit));
    const text = params.toString();
    return this.#call(
      'GET',
      `/api/jobs/${encodeURIComponent(id)}/logs${text === '' ? '' : `?${text}`}`,
      undefined,
      options,
    );
  }

  /**
   * A job's lines after `after`, then each new one as it is stored, until the job finishes (the last
   * item is `{ end }`) or the signal aborts (Server-Sent Events).
   */
  async followLogs(
    id: string,
    options: CallOptions & { readonly after?: number } = {},
  ): Promise<AsyncIterable<{ readonly line: LogLineView } | { readonly end: LogEndView }>> {
    const path = `/api/jobs/${encodeURIComponent(id)}/logs?follow=1&after=${options.after ?? 0}`;
    const response = await this.#fetch('GET', path, undefined, options.signal);
    if (!response.ok || response.body === null) throw await errorOf(response, this.server);
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    async function* iterate(): AsyncGenerator<{ line: LogLineView } | { end: LogEndView }> {
      for await (const { event, data } of sseFrames(reader, '')) {
        if (event === 'log') yield { line: JSON.parse(data) as LogLineView };
        else if (event === 'end') {
          yield { end: JSON.parse(data) as LogEndView };
          return;
        }
      }
    }
    return iterate();
  }

  /**
   * The job store's news for an agent's queue from now until the signal aborts or the server ends the
   * stream (Server-Sent Events of GET /api/agents/:id/news; agent scope). Resolves once subscribed.
   */
  async agentNews(agentId: string, signal: AbortSignal): Promise<AsyncIterable<BrokerEvent>> {
    const response = await this.#fetch(
      'GET',
      `/api/agents/${encodeURIComponent(agentId)}/news`,
      undefined,
      signal,
    );
    if (!response.ok || response.body === null) throw await errorOf(response, this.server);
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    async function* iterate(): AsyncGenerator<BrokerEvent> {
      for await (const { event, data } of sseFrames(reader, ''))
        if (event === 'news') yield JSON.parse(data) as BrokerEvent;
    }
    return iterate();
  }

  /** Job events from now until the signal aborts (Server-Sent Events). Resolves the iterator once subscribed. */
  async events(signal: AbortSignal): Promise<AsyncIterable<JobEventView>> {
    const response = await this.#fetch('GET', '/api/events', undefined, signal);
    if (!response.ok || response.body === null) throw await errorOf(response, this.server);
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    // The server writes ': ready' once subscribed; read up to it so events after this call are seen.
    while (!buffer.includes('\n\n')) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
    }
    buffer = buffer.slice(buffer.indexOf('\n\n') + 2);
    async function* iterate(): AsyncGenerator<JobEventView> {
      // Job events only: the stream also carries `event: schedule`, `agent` and `metrics` frames.
      for await (const { event, data } of sseFrames(reader, buffer))
        if (event === 'job' || event === 'message') yield JSON.parse(data) as JobEventView;
    }
    return iterate();
  }

  async #fetch(
    method: string,
    path: string,
    body: unknown,
    signal: AbortSignal | undefined,
  ): Promise<Response> {
    try {
      return await fetch(`${this.server}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.#token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        ...(signal === undefined ? {} : { signal }),
      });
    } catch (error) {
      if (signal?.aborted === true) throw error;
      const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
      const shown = cause instanceof Error ? cause.message : String(cause);
      const code = (cause as { code?: unknown } | null)?.code;
      const next =
        typeof code === 'string' && UNTRUSTED_CERTIFICATE.test(code)
          ? "its TLS certificate is not trusted here: point NODE_EXTRA_CA_CERTS at the PEM of the certificate's CA (or at the certificate itself, if it signed itself) and run again"
          : 'is skein up running there?';
      throw new SkeinError(
        'SKEIN_CLOUD_UNREACHABLE',
        `cannot reach the Skein server at ${this.server} (${shown}); ${next}`,
        {
          cause: error,
        },
      );
    }
  }

  async #call<T>(method: string, path: string, body: unknown, options: CallOptions = {}): Promise<T> {
    const response = await this.#fetch(method, path, body, options.signal);
    if (!response.ok) throw await errorOf(response, this.server);
    try {
      return (await response.json()) as T;
    } catch (error) {
      throw new SkeinError('SKEIN_CLOUD_UNREACHABLE', `${this.server} answered ${path} with no JSON`, {
        cause: error,
      });
    }
  }
}

async function errorOf(response: Response, server: string): Promise<SkeinError> {
  let body: Partial<ErrorResponse> | undefined;
  try {
    body = (await response.json()) as Partial<ErrorResponse>;
  } catch {
    body = undefined;
  }
  const code = body?.code;
  if (typeof code === 'string' && Object.hasOwn(ERROR_CODES, code) && typeof body?.message === 'string') {
    // Rebuilt from the code only (an allow-list); the HTTP status rides along as `statusCode`.
    const fields: Record<string, unknown> = { statusCode: response.status };
    const retryAfter = Number(response.headers.get('retry-after'));
    if (response.headers.has('retry-after') && Number.isFinite(retryAfter)) fields.retryAfter = retryAfter;
    if (code === 'SKEIN_CLOUD_FUNCTION_FAILED' && body.cause !== undefined)
      fields.cause = causeOf(body.cause);
    return errorFromCode(code, body.message, fields);
  }
  return new SkeinError(
    'SKEIN_CLOUD_UNREACHABLE',
    `${server} answered HTTP ${response.status} without a Skein error; is it a Skein server?`,
  );
}

/** Built-in error classes a function's error may be rebuilt as; any other name gives a plain Error. */
const BUILTIN_ERRORS: Readonly<Record<string, ErrorConstructor>> = Object.freeze({
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
});

/**
 * A function's error from its wire form `{ name, message, code }`, as data: a Skein error when `code` is
 * in ERROR_CODES, a built-in class when `name` is one, else a plain Error that keeps `name` as text.
 */
function causeOf(wire: unknown): Error {
  const { name, message, code } = (typeof wire === 'object' && wire !== null ? wire : {}) as {
    name?: unknown;
    message?: unknown;
    code?: unknown;
  };
  const text = typeof message === 'string' ? message : '';
  if (typeof code === 'string' && Object.hasOwn(ERROR_CODES, code)) return errorFromCode(code, text);
  const Class =
    typeof name === 'string' && Object.hasOwn(BUILTIN_ERRORS, name) ? BUILTIN_ERRORS[name]! : Error;
  const error = new Class(text);
  if (Class === Error && typeof name === 'string' && name !== 'Error') {
    Object.defineProperty(error, 'name', {
      value: name,
      enumerable: false,
      writable: true,
      configurable: true,
    });
  }
  if (typeof code === 'string') Object.defineProperty(error, 'code', { value: code, enumerable: true });
  return error;
}

/**
 * The frames of a Server-Sent Events stream, after `buffered` text already read: each one's event name
 * ('message' when it names none) and its data lines joined; comments and frames without data are
 * skipped. Ends the stream when the caller stops.
 */
async function* sseFrames(
  reader: ReadableStreamDefaultReader<string>,
  buffered: string,
): AsyncGenerator<{ readonly event: string; readonly data: string }> {
  let buffer = buffered;
  try {
    for (;;) {
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        const lines = buffer.slice(0, end).split('\n');
        buffer = buffer.slice(end + 2);
        const data = lines
          .filter((line) => line.startsWith('data: '))
          .map((line) => line.slice(6))
          .join('\n');
        if (data === '') continue;
        yield { event: lines.find((line) => line.startsWith('event: '))?.slice(7) ?? 'message', data };
      }
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}
