// How a job lives in its Redis hash: one field per JobRecord field, numbers as decimal text, bytes as
// they are, errors as JSON, booleans as 0/1; a null field is an absent field. The Lua scripts read and
// write the same field names.

import { internalError } from '../../errors.ts';
import type { BrokerEvent, JobRecord, JobState, NewJob, StoredError } from '../broker.ts';
import { JOB_STATES } from '../broker.ts';

type Argument = string | Buffer;

/** What packForLua carries: text, bytes, and arrays of them (numbers go as text: Lua's tonumber reads them). */
export type LuaPackable = string | Buffer | readonly LuaPackable[];

/**
 * `value` as one MessagePack argument for a script to cmsgpack.unpack, so that a batch is one argument
 * rather than several per item. Redis's cmsgpack predates the bin and str8 types, so strings and bytes
 * both go as raw (fixraw, raw16, raw32) and arrays as fixarray, array16 or array32.
 */
export function packForLua(value: LuaPackable): Buffer {
  const out = Buffer.allocUnsafe(packedSize(value));
  const end = writePacked(out, 0, value);
  return end === out.length ? out : out.subarray(0, end);
}

/** Strings shorter than this are sized by a bound (3 UTF-8 bytes per UTF-16 unit), not measured. */
const BOUND_SIZED = 4096;

/** An upper bound of the packed size: exact for bytes, at most three bytes a unit for short strings. */
function packedSize(value: LuaPackable): number {
  if (typeof value === 'string')
    return 5 + (value.length < BOUND_SIZED ? 3 * value.length : Buffer.byteLength(value));
  if (Buffer.isBuffer(value)) return 5 + value.length;
  let size = 5;
  for (const item of value as readonly LuaPackable[]) size += packedSize(item);
  return size;
}

function writePacked(out: Buffer, at: number, value: LuaPackable): number {
  if (typeof value === 'string') {
    // Written in place, not through a Buffer of its own: a batch packs several strings per job. A short
    // string is written first and its header after, from the bytes written (one native call, not a
    // byteLength before the write); raw16 serves one of 11 to 21,845 units even below 32 bytes, which
    // cmsgpack reads as well as a fixraw.
    if (value.length < 64) {
      // Ids, numbers, kinds: ASCII copied by hand, cheaper than a native call for a few bytes.
      const length = value.length;
      const header = length < 32 ? 1 : 3;
      if (writeAscii(out, at + header, value)) {
        if (header === 1) out[at] = 0xa0 | length;
        else {
          out[at] = 0xda;
          out.writeUInt16BE(length, at + 1);
        }
        return at + header + length;
      }
    }
    if (value.length <= 10) {
      const written = out.write(value, at + 1);
      out[at] = 0xa0 | written;
      return at + 1 + written;
    }
    if (value.length <= 21_845) {
      const written = out.write(value, at + 3);
      out[at] = 0xda;
      out.writeUInt16BE(written, at + 1);
      return at + 3 + written;
    }
    const length = Buffer.byteLength(value);
    at = writeRawHeader(out, at, length);
    return at + out.write(value, at, length);
  }
  if (Buffer.isBuffer(value)) {
    at = writeRawHeader(out, at, value.length);
    if (value.length >= 32) return at + value.copy(out, at);
    // A few bytes (a small result) by hand: cheaper than a native copy.
    for (let i = 0; i < value.length; i++) out[at + i] = value[i]!;
    return at + value.length;
  }
  const items = value as readonly LuaPackable[];
  if (items.length < 16) out[at++] = 0x90 | items.length;
  else if (items.length < 0x10000) {
    out[at++] = 0xdc;
    out.writeUInt16BE(items.length, at);
    at += 2;
  } else {
    out[at++] = 0xdd;
    out.writeUInt32BE(items.length, at);
    at += 4;
  }
  for (const item of items) at = writePacked(out, at, item);
  return at;
}

/** Writes `value` at `at` when it is all ASCII (true); false, with the bytes after `at` undefined, if not. */
function writeAscii(out: Buffer, at: number, value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code >= 0x80) return false;
    out[at + i] = code;
  }
  return true;
}

/** The header of a raw (string or bytes) of `length` bytes; returns where its bytes go. */
function writeRawHeader(out: Buffer, at: number, length: number): number {
  if (length < 32) out[at++] = 0xa0 | length;
  else if (length < 0x10000) {
    out[at++] = 0xda;
    out.writeUInt16BE(length, at);
    at += 2;
  } else {
    out[at++] = 0xdb;
    out.writeUInt32BE(length, at);
    at += 4;
  }
  return at;
}

/** Bytes as a Buffer over the same memory, for ioredis (which would String() a plain Uint8Array). */
export function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The field/value pairs enqueue-jobs.lua stores for a new job (null fields, priority 0 and deadLetter true left out). */
export function newJobFields(job: NewJob): Argument[] {
  const fields: Argument[] = [
    'id',
    job.id,
    'queue',
    job.queue,
    'task',
    job.task,
    'payload',
    toBuffer(job.payload),
    'runAt',
    String(job.runAt),
    'maxAttempts',
    String(job.maxAttempts),
    'resultTtlMs',
    String(job.resultTtlMs),
  ];
  // Priority 0 is not stored: an absent priority reads as 0 (lua/include/enqueue-jobs.lua); nor is
  // deadLetter when it is true, the default: only '0' is (every reader takes an absent one as true).
  if (job.priority !== 0) fields.push('priority', String(job.priority));
  if (!job.deadLetter) fields.push('deadLetter', '0');
  if (job.timeLimitMs !== null) fields.push('timeLimitMs', String(job.timeLimitMs));
  if (job.idempotencyKey !== null) fields.push('idempotencyKey', job.idempotencyKey);
  if (job.group !== null) fields.push('group', job.group);
  if (job.parentId !== null) fields.push('parentId', job.parentId);
  if (job.canvas !== null) fields.push('canvas', toBuffer(job.canvas));
  return fields;
}

/** A job hash as read: field → value (text, or bytes for the binary fields); a null field is absent. */
export type JobFields = { readonly [field: string]: Buffer | string | undefined };

/**
 * A job as frame_job (lua/include/job-state.lua) writes it, for a claim's reply, a handoff and an awaited
 * job's finish: `\1<JSON of the text fields>`, then per binary field `\n<name>\n<length>\n<bytes>`.
 * @throws SkeinError SKEIN_INTERNAL for a message not in that shape.
 */
export function unframeJob(message: Buffer): JobFields {
  let at = message.indexOf(10, 1);
  if (at < 0) at = message.length;
  const fields = JSON.parse(message.toString('utf8', 1, at)) as Record<string, Buffer | string>;
  while (at < message.length) {
    const nameEnd = message.indexOf(10, at + 1);
    const lengthEnd = nameEnd < 0 ? -1 : message.indexOf(10, nameEnd + 1);
    if (lengthEnd < 0) throw internalError('a finished-job message is cut short');
    const length = Number(message.toString('latin1', nameEnd + 1, lengthEnd));
    const end = lengthEnd + 1 + length;
    if (!Number.isInteger(length) || end > message.length)
      throw internalError('a finished-job message is cut short');
    fields[message.toString('utf8', at + 1, nameEnd)] = message.subarray(lengthEnd + 1, end);
    at = end;
  }
  return fields;
}

/** What a claim wrote into each job it claimed, which frame_claimed leaves out of its reply (decodeJob). */
export interface ClaimStamp {
  readonly queue: string;
  readonly workerId: string;
  /** The claim's clock (its `now`), and the lease it gave. */
  readonly now: number;
  readonly leaseMs: number;
}

/**
 * The jobs of a claim's reply, as frame_claimed (lua/include/claim-jobs.lua) writes them: `texts`, the
 * JSON array of their text fields without those the claim wrote (decodeJob with the claim's stamp puts
 * them back), and `binaries`, per job `\1` then `\n<name>\n<length>\n<bytes>` per binary field (views
 * into `binaries`, not copies), in the order of the array.
 * @throws SkeinError SKEIN_INTERNAL for a reply not in that shape.
 */
export function unframeClaimed(texts: Buffer, binaries: Buffer): JobFields[] {
  if (texts.length === 0) return [];
  const jobs = JSON.parse(texts.toString('utf8')) as Record<string, Buffer | string>[];
  if (!Array.isArray(jobs)) throw internalError('a claim reply is not an array of jobs');
  let job = -1;
  let at = 0;
  const end = binaries.length;
  while (at < end) {
    if (binaries[at] === 1) {
      job++;
      at++;
      continue;
    }
    const fields = jobs[job];
    if (fields === undefined || binaries[at] !== 10) throw internalError('a claim reply is cut short');
    // The name and the length are read off the bytes, with no string made of either for the usual
    // payload (a field name of ASCII letters; a length of decimal digits).
    const nameEnd = binaries.indexOf(10, at + 1);
    if (nameEnd < 0) throw internalError('a claim reply is cut short');
    let length = 0;
    let lengthEnd = nameEnd + 1;
    for (; lengthEnd < end; lengthEnd++) {
      const digit = (binaries[lengthEnd] as number) - 48;
      if (digit < 0 || digit > 9) break;
      length = length * 10 + digit;
    }
    const valueAt = lengthEnd + 1;
    if (lengthEnd === nameEnd + 1 || binaries[lengthEnd] !== 10 || valueAt + length > end)
      throw internalError('a claim reply is cut short');
    const name = isPayloadName(binaries, at + 1, nameEnd)
      ? 'payload'
      : binaries.toString('latin1', at + 1, nameEnd);
    fields[name] = binaries.subarray(valueAt, valueAt + length);
    at = valueAt + length;
  }
  if (job !== jobs.length - 1) throw internalError('a claim reply is cut short');
  return jobs;
}

/** Whether bytes [from, to) of `bytes` spell `payload`. */
function isPayloadName(bytes: Buffer, from: number, to: number): boolean {
  return (
    to - from === 7 &&
    bytes[from] === 0x70 &&
    bytes[from + 1] === 0x61 &&
    bytes[from + 2] === 0x79 &&
    bytes[from + 3] === 0x6c &&
    bytes[from + 4] === 0x6f &&
    bytes[from + 5] === 0x61 &&
    bytes[from + 6] === 0x64
  );
}

function isEmpty(hash: JobFields): boolean {
  for (const _ in hash) return false;
  return true;
}

function parseNumber(field: string, text: string): number {
  // Nearly every number is a time, duration or count written with '%d': its digits are summed here,
  // cheaper than Number()'s general parse (15 digits at most, so the sum is exact).
  const length = text.length;
  if (length > 0 && length < 16) {
    let value = 0;
    let i = 0;
    for (; i < length; i++) {
      const digit = text.charCodeAt(i) - 48;
      if (digit < 0 || digit > 9) break;
      value = value * 10 + digit;
    }
    if (i === length) return value;
  }
  if (text === 'inf') return Number.POSITIVE_INFINITY;
  if (text === '-inf') return Number.NEGATIVE_INFINITY;
  const value = Number(text);
  if (text === '' || Number.isNaN(value))
    throw internalError(`job field ${field} is not a number: ${JSON.stringify(text)}`);
  return value;
}

// Fields are read straight off the hash, without Object.hasOwn: none of the names read is one that
// Object.prototype has, and this runs some twenty times for each job a claim returns.
function textOf(hash: JobFields, field: string): string | null {
  const value = hash[field];
  return value === undefined ? null : typeof value === 'string' ? value : value.toString();
}

function requiredOf(hash: JobFields, field: string): string {
  const value = textOf(hash, field);
  if (value === null) throw internalError(`job hash ${textOf(hash, 'id') ?? '?'} has no ${field} field`);
  return value;
}

function numberOf(hash: JobFields, field: string): number {
  return parseNumber(field, requiredOf(hash, field));
}

function optionalNumberOf(hash: JobFields, field: string): number | null {
  const value = textOf(hash, field);
  return value === null ? null : parseNumber(field, value);
}

function bytesOf(hash: JobFields, field: string): Uint8Array | null {
  const value = hash[field];
  if (value === undefined) return null;
  if (typeof value === 'string') throw internalError(`job field ${field} is not bytes`);
  return new Uint8Array(value);
}

/**
 * Decodes a job hash; undefined for an empty (missing) hash. With `claim`, the hash is one of a claim's
 * jobs (unframeClaimed), which lacks the fields that claim wrote: they come from the stamp, not from
 * text put back into the hash and parsed again. (Module-level helpers, not closures: a claim decodes
 * every job it returns.)
 * @throws SkeinError SKEIN_INTERNAL for a damaged hash (a missing or unreadable field).
 */
export function decodeJob(hash: JobFields, claim?: ClaimStamp): JobRecord | undefined {
  if (claim === undefined && isEmpty(hash)) return undefined;
  const state = claim === undefined ? (requiredOf(hash, 'state') as JobState) : 'running';
  if (!JOB_STATES.includes(state))
    throw internalError(`job ${requiredOf(hash, 'id')} has an unknown state ${state}`);
  // A finished hash may keep the lease fields of its last attempt (settle-job.lua complete_job skips
  // their HDEL): they mean something only while the job runs.
  const running = state === 'running';
  const errorText = textOf(hash, 'error');
  let error: StoredError | null = null;
  try {
    error = errorText === null ? null : decodeError(errorText);
  } catch {
    throw internalError(`job ${requiredOf(hash, 'id')} has an error field that is not JSON`);
  }
  return {
    id: requiredOf(hash, 'id'),
    queue: claim === undefined ? requiredOf(hash, 'queue') : claim.queue,
    task: requiredOf(hash, 'task'),
    payload: bytesOf(hash, 'payload') ?? new Uint8Array(0),
    priority: optionalNumberOf(hash, 'priority') ?? 0,
    runAt: numberOf(hash, 'runAt'),
    maxAttempts: numberOf(hash, 'maxAttempts'),
    timeLimitMs: optionalNumberOf(hash, 'timeLimitMs'),
    idempotencyKey: textOf(hash, 'idempotencyKey'),
    group: textOf(hash, 'group'),
    resultTtlMs: numberOf(hash, 'resultTtlMs'),
    deadLetter: textOf(hash, 'deadLetter') !== '0',
    parentId: textOf(hash, 'parentId'),
    canvas: bytesOf(hash, 'canvas'),
    state,
    attempt: optionalNumberOf(hash, 'attempt') ?? 0,
    createdAt: numberOf(hash, 'createdAt'),
    // As claim_jobs writes them: num(now) and num(now + lease_ms).
    startedAt: claim === undefined ? optionalNumberOf(hash, 'startedAt') : claim.now,
    finishedAt: optionalNumberOf(hash, 'finishedAt'),
    workerId: claim !== undefined ? claim.workerId : running ? textOf(hash, 'workerId') : null,
    leaseUntil:
      claim !== undefined ? claim.now + claim.leaseMs : running ? optionalNumberOf(hash, 'leaseUntil') : null,
    result: bytesOf(hash, 'result'),
    error,
    progress: bytesOf(hash, 'progress'),
    cancelRequested: textOf(hash, 'cancelRequested') === '1',
    expiresAt: expiresAtOf(hash, state),
  };
}

/** States whose jobs expire (a dead job is kept until retried by hand). */
const EXPIRING_STATES: ReadonlySet<JobState> = new Set(['succeeded', 'failed', 'cancelled']);

/**
 * A finished job's expiresAt: finishedAt + resultTtlMs, which the scripts no longer write (finish_in
 * of lua/include/job-state.lua), or the expiresAt field of a job finished before.
 */
function expiresAtOf(hash: JobFields, state: JobState): number | null {
  const stored = optionalNumberOf(hash, 'expiresAt');
  if (stored !== null || !EXPIRING_STATES.has(state)) return stored;
  const finishedAt = optionalNumberOf(hash, 'finishedAt');
  return finishedAt === null ? null : finishedAt + numberOf(hash, 'resultTtlMs');
}

/** Errors are stored as JSON; `undefined` members are left out and come back as undefined. */
export function encodeError(error: StoredError): string {
  return JSON.stringify({ name: error.name, message: error.message, stack: error.stack, code: error.code });
}

function decodeError(json: string): StoredError {
  const value = JSON.parse(json) as Partial<Record<keyof StoredError, unknown>>;
  const optional = (member: unknown): string | undefined => (typeof member === 'string' ? member : undefined);
  return {
    name: typeof value.name === 'string' ? value.name : 'Error',
    message: typeof value.message === 'string' ? value.message : '',
    stack: optional(value.stack),
    code: optional(value.code),
  };
}

/**
 * Decodes one stream entry's flat field list, as flush_events in include/job-state.lua writes it: `at`,
 * then one field per run of events (type → `<queue>\t<workerId>\t<jobId>\n<jobId>…`), in order.
 */
export function decodeEvents(fields: readonly string[]): BrokerEvent[] {
  let at = Number.NaN;
  const events: BrokerEvent[] = [];
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const name = fields[i]!;
    const value = fields[i + 1]!;
    if (name === 'at') {
      at = Number(value);
      continue;
    }
    decodeRun(name, value, at, events);
  }
  return events;
}

/** Decodes one news message (`<at>\t<type>\t<queue>\t<workerId>\t<ids>`, see flush_events) into `into`. */
export function decodeNews(message: string, into: BrokerEvent[]): void {
  const atEnd = message.indexOf('\t');
  const typeEnd = message.indexOf('\t', atEnd + 1);
  decodeRun(
    message.slice(atEnd + 1, typeEnd),
    message.slice(typeEnd + 1),
    Number(message.slice(0, atEnd)),
    into,
  );
}

/** Decodes one run (`<queue>\t<workerId>\t<jobId>\n<jobId>…`) of events of one type into `events`. */
function decodeRun(name: string, value: string, at: number, events: BrokerEvent[]): void {
  const type = name as BrokerEvent['type'];
  const queueEnd = value.indexOf('\t');
  const workerEnd = value.indexOf('\t', queueEnd + 1);
  const queue = value.slice(0, queueEnd);
  const workerId = value.slice(queueEnd + 1, workerEnd) || null;
  const ids = value.slice(workerEnd + 1);
  if (ids === '') {
    events.push({ type, jobId: null, queue, workerId, at });
    return;
  }
  for (const jobId of ids.split('\n')) events.push({ type, jobId, queue, workerId, at });
}
