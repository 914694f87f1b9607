// A GPU device: one WebGPU device on one adapter, with the queue every array and kernel of it submits
// to. Every command goes through one path (encode): straight into a fresh submit, or into the open batch.
// destroy() destroys the arrays made on the device first, so nothing can use a buffer of a dead device.

import { channel } from 'node:diagnostics_channel';
import { InvalidArgumentError, SkeinError } from '../errors.ts';
import { type Span, SpanRecorder } from '../trace/index.ts';
import { type AdapterDescription, describeAdapter, type PowerPreference, pickAdapter } from './adapters.ts';
import { BufferUsage, MAP_READ_MODE } from './dawn.ts';
import { type EventTiming, finishEvent, GpuEvent, type Settle, type TimingSource } from './event.ts';

const dispatchChannel = channel('skein:gpu:dispatch');

/** Track number of GPU spans in a trace (pool workers use their ids, the pool queue -1). */
export const GPU_TRACE_TRACK = 1000;

export interface DeviceOptions {
  /** Which adapter to prefer when several exist. @defaultValue undefined (Dawn's default) */
  readonly powerPreference?: PowerPreference;
  /** A case-insensitive part of the adapter's name (or a RegExp); see listAdapters(). */
  readonly adapter?: string | RegExp;
  /**
   * Measure every dispatch: GPU time through timestamp queries where the adapter has them, else wall
   * time; events then settle with elapsedMs without a wait() of their own. @defaultValue false
   */
  readonly profiling?: boolean;
  /** Record a span per dispatch for device.spans() (implies profiling). @defaultValue false */
  readonly trace?: boolean;
  /** Device label shown in Dawn's messages and traces. @defaultValue the adapter's name */
  readonly label?: string;
  /**
   * Optional WebGPU features to enable. Default: each of 'shader-f16', 'subgroups' and
   * 'timestamp-query' the adapter has. [] gives a baseline device (to test portable code paths).
   */
  readonly features?: readonly string[];
}

export const DEVICE_DEFAULTS = Object.freeze({ profiling: false, trace: false });

/** Something made on a device that the device destroys with itself (arrays). */
export interface DeviceResource {
  destroy(): void;
}

/** What the waits after one kernel (by name) learned: see GpuDevice's #quietly. */
interface WaitStats {
  /** How long a wait after the kernel sleeps before Dawn polls, in ms (0: it does not sleep). */
  sleep: number;
  /** How long the last wait after it took, slept and polled, in ms. */
  last: number;
}

interface PendingWork {
  readonly after: (() => void)[];
  readonly cleanup: GPUBuffer[];
}

/** Copies recorded right before and after a pass (views bound through aligned copies). */
export interface PassSurroundings {
  before(encoder: GPUCommandEncoder): void;
  after(encoder: GPUCommandEncoder): void;
}

/** Internals arrays and kernels reach; not part of the public API. */
export interface DeviceInternals {
  readonly raw: GPUDevice;
  assertAlive(what: string): void;
  track(resource: DeviceResource): void;
  untrack(resource: DeviceResource): void;
  /** Records commands into the open batch or a fresh submit; `cleanup` buffers are destroyed after submit. */
  encode(record: (encoder: GPUCommandEncoder) => void, cleanup?: readonly GPUBuffer[]): void;
  /** Records one compute pass (timed when profiling) and returns its event. */
  dispatch(
    name: string,
    record: (pass: GPUComputePassEncoder) => void,
    cleanup?: readonly GPUBuffer[],
    around?: PassSurroundings,
  ): GpuEvent;
  readonly batching: boolean;
  /** Runs `fn` after the current submit: now, or when the open batch is submitted. */
  afterSubmit(fn: () => void): void;
  /** Throws SKEIN_GPU_VALIDATION if Dawn refused a command since the last check. */
  throwRefused(): void;
  /** Waits for a Dawn request made by `start`, sleeping first after kernels whose waits were long. */
  quietly<T>(start: () => Promise<T>): Promise<T>;
  /** Registers a pending buffer read, which close() lets finish before destroying the device. */
  reading<T>(read: Promise<T>): Promise<T>;
  readonly pipelines: Map<string, GPUComputePipeline>;
}

const internalsOf = new WeakMap<GpuDevice, DeviceInternals>();

/** @internal The device's internals for arrays and kernels of this layer. */
export function deviceInternals(device: GpuDevice): DeviceInternals {
  const internals = internalsOf.get(device);
  if (internals === undefined) {
    throw new InvalidArgumentError(
      'SKEIN_GPU_INVALID_ARGUMENT',
      `expected a GpuDevice from requestDevice() (got ${Object.prototype.toString.call(device)})`,
    );
  }
  return internals;
}

/** A wait sleeps before polling only when it expects to wait at least this long, in ms. */
const MIN_SLEEP_MS = 2;
/** The longest sleep before polling, in ms: work that long gains nothing from a closer guess. */
const MAX_SLEEP_MS = 1000;
/** The share of an expected wait that is slept before polling (the rest covers run-to-run jitter). */
const SLEEP_SHARE = 0.75;
/** A poll that ends within this many ms after the sleep found the work already done, in ms. */
const DONE_WHILE_ASLEEP_MS = 0.5;

const WANTED_FEATURES = ['shader-f16', 'subgroups', 'timestamp-query'] as const;
const RAISED_LIMITS = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
  'maxStorageBuffersPerShaderStage',
] as const;

/**
 * Opens a device on the adapter chosen by `options`.
 * @example
 * using device = await requestDevice();
 * console.log(device.adapter.name, device.adapter.software ? 'on the CPU' : 'on a GPU');
 * @throws SKEIN_GPU_NO_ADAPTER when no adapter exists or none matches `options.adapter`.
 * @throws SKEIN_GPU_INVALID_ARGUMENT for a bad option.
 */
export async function requestDevice(options: DeviceOptions = {}): Promise<GpuDevice> {
  const resolved = resolveDeviceOptions(options);
  const adapter = await pickAdapter(resolved);
  const description = describeAdapter(adapter);
  const missing = resolved.features?.filter((feature) => !adapter.features.has(feature)) ?? [];
  if (missing.length > 0) {
    throw new SkeinError(
      'SKEIN_GPU_UNSUPPORTED',
      `adapter "${description.name}" lacks the feature${missing.length > 1 ? 's' : ''} ${missing.join(', ')}; it offers ${description.features.join(', ') || 'none'}`,
    );
  }
  const requiredFeatures = (resolved.features ?? WANTED_FEATURES).filter((feature) =>
    adapter.features.has(feature),
  ) as GPUFeatureName[];
  const requiredLimits: Record<string, number> = {};
  for (const name of RAISED_LIMITS) {
    const value = description.limits[name];
    if (value !== undefined) requiredLimits[name] = value;
  }
  const raw = await adapter.requestDevice({
    label: resolved.label ?? description.name,
    requiredFeatures,
    requiredLimits,
  });
  return new GpuDevice(raw, description, resolved);
}

export interface ResolvedDeviceOptions {
  readonly powerPreference?: PowerPreference;
  readonly adapter?: string | RegExp;
  readonly profiling: boolean;
  readonly trace: boolean;
  readonly label?: string;
  readonly features?: readonly string[];
}

export function resolveDeviceOptions(options: DeviceOptions): ResolvedDeviceOptions {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError(
      'SKEIN_GPU_INVALID_ARGUMENT',
      `device options must be an object (got ${String(options)})`,
    );
  }
  const bad = (path: string, want: string, got: unknown): never => {
    throw new InvalidArgumentError(
      'SKEIN_GPU_INVALID_ARGUMENT',
      `options.${path} must be ${want} (got ${String(got)})`,
    );
  };
  const { powerPreference, adapter, profiling, trace, label, features } = options;
  if (features !== undefined && (!Array.isArray(features) || features.some((f) => typeof f !== 'string')))
    bad('features', 'an array of feature names', features);
  if (
    powerPreference !== undefined &&
    powerPreference !== 'high-performance' &&
    powerPreference !== 'low-power'
  )
    bad('powerPreference', "'high-performance' or 'low-power'", powerPreference);
  if (adapter !== undefined && typeof adapter !== 'string' && !(adapter instanceof RegExp))
    bad('adapter', 'a string or RegExp', adapter);
  if (profiling !== undefined && typeof profiling !== 'boolean') bad('profiling', 'a boolean', profiling);
  if (trace !== undefined && typeof trace !== 'boolean') bad('trace', 'a boolean', trace);
  if (label !== undefined && typeof label !== 'string') bad('label', 'a string', label);
  const tracing = trace ?? DEVICE_DEFAULTS.trace;
  return Object.freeze({
    ...(powerPreference === undefined ? {} : { powerPreference }),
    ...(adapter === undefined ? {} : { adapter }),
    ...(label === undefined ? {} : { label }),
    ...(features === undefined ? {} : { features: Object.freeze([...features]) }),
    profiling: tracing || (profiling ?? DEVICE_DEFAULTS.profiling),
    trace: tracing,
  });
}

let nextDeviceId = 0;

/** One WebGPU device. Make it with requestDevice(); arrays and kernels are made on it. */
export class GpuDevice {
  /** The adapter the device runs on. */
  readonly adapter: AdapterDescription;
  readonly options: ResolvedDeviceOptions;
  /** Dawn's device, for interop with other WebGPU code (TF.js, your own pipelines). */
  readonly raw: GPUDevice;
  readonly id = nextDeviceId++;
  readonly #resources = new Set<DeviceResource>();
  readonly #pipelines = new Map<string, GPUComputePipeline>();
  readonly #spans: SpanRecorder | undefined;
  readonly #timestamps: boolean;
  readonly #limits: Readonly<Record<keyof GPUSupportedLimits, number>>;
  readonly #features: ReadonlySet<string>;
  #batch: (PendingWork & { encoder: GPUCommandEncoder; events: (() => void)[] }) | undefined;
  #gone: string | undefined;
  #refused: string | undefined;
  #closing: Promise<void> | undefined;
  readonly #reads = new Set<Promise<unknown>>();
  readonly #profiling: boolean;
  /** What the waits after the kernel dispatched last learned, until the queue was last seen drained. */
  #lastDispatch: WaitStats | undefined;
  /** Per kernel name: what the waits after it learned (#quietly). */
  readonly #waits = new Map<string, WaitStats>();
  /** Made once rather than per wait: every dispatch's wait passes them. */
  readonly #workDone = (): Promise<undefined> => this.raw.queue.onSubmittedWorkDone();
  readonly #waitFailed = (error: unknown): never => {
    throw this.#goneError('waiting for GPU work', error);
  };
  /** The Settle of every lone, unprofiled dispatch: wall time from submit to the end of the wait. */
  readonly #settleWall: Settle = this.#waitWall.bind(this);
  readonly #finishWall = (_: undefined, doneAt: number, event: GpuEvent): GpuEvent => {
    if (this.#gone !== undefined || this.#refused !== undefined) this.#checkAfterWait();
    const elapsedMs = doneAt - event.submittedAt;
    return finishEvent(
      event,
      this.#spans === undefined && !dispatchChannel.hasSubscribers
        ? { elapsedMs, source: 'wall' }
        : this.#settled(event.name, event.submittedAt, elapsedMs, 'wall'),
    );
  };
  /** The Settle of a batch's event: wall time from its submit to the end of the wait, no span. */
  readonly #settleBatch: Settle = (event) => this.#done(this.#finishBatch, event);
  readonly #finishBatch = (_: undefined, doneAt: number, event: GpuEvent): GpuEvent => {
    this.#checkAfterWait();
    return finishEvent(event, { elapsedMs: doneAt - event.submittedAt, source: 'wall' });
  };

  /** @internal Use requestDevice(). */
  constructor(raw: GPUDevice, adapter: AdapterDescription, options: ResolvedDeviceOptions) {
    this.raw = raw;
    this.adapter = adapter;
    this.options = options;
    this.#spans = options.trace ? new SpanRecorder() : undefined;
    this.#features = new Set(raw.features);
    this.#profiling = options.profiling;
    this.#timestamps = options.profiling && this.#features.has('timestamp-query');
    const limits: Record<string, number> = {};
    // GPUSupportedLimits exposes its values as prototype getters, so for…in (not Object.keys) finds them.
    for (const key in raw.limits) {
      const value = (raw.limits as unknown as Record<string, unknown>)[key];
      if (typeof value === 'number') limits[key] = value;
    }
    this.#limits = Object.freeze(limits) as Readonly<Record<keyof GPUSupportedLimits, number>>;
    raw.lost.then(
      (info) => {
        this.#gone ??= `its device was lost (${info.reason}: ${info.message})`;
      },
      () => {},
    );
    // Dawn reports a command it refused (and skipped) only as an event; keep the first, the root cause,
    // until the next wait for GPU work reports it. Dawn also prints it to stderr.
    raw.addEventListener('uncapturederror', (event) => {
      this.#refused ??= (event as GPUUncapturedErrorEvent).error.message;
    });
    internalsOf.set(this, this.#makeInternals());
  }

  /** True when the device has f16 arrays and kernels (the adapter's shader-f16 feature). */
  get f16(): boolean {
    return this.#features.has('shader-f16');
  }

  /** True when kernels may use WGSL subgroup operations. */
  get subgroups(): boolean {
    return this.#features.has('subgroups');
  }

  /** True when dispatches are timed on the GPU (profiling on and the adapter has timestamp queries). */
  get timestamps(): boolean {
    return this.#timestamps;
  }

  /**
   * The device's limits by name (bytes for sizes), raised to the adapter's maxima for buffers and
   * workgroups. A snapshot taken once: Dawn builds a new object on every read of GPUDevice.limits,
   * which cost tens of microseconds a dispatch when read on the hot path.
   */
  get limits(): Readonly<Record<keyof GPUSupportedLimits, number>> {
    return this.#limits;
  }

  /** True after destroy() or when the device was lost. */
  get destroyed(): boolean {
    return this.#gone !== undefined;
  }

  /** Spans of the dispatches so far (with options.trace), for writeChromeTrace beside a pool's spans. */
  spans(): readonly Span[] {
    return this.#spans?.spans() ?? [];
  }

  /**
   * Records every dispatch and copy that `record` makes on this device into one command buffer and
   * submits it once. `record` must be synchronous: reading results back (toHost, reduce.run) inside it
   * would wait for work that is not submitted yet, and throws.
   * @example
   * const event = device.batch(() => { for (let i = 0; i < 100; i++) step.run({ x }, { global: [n] }); });
   * await event.wait();
   */
  batch(record: () => void): GpuEvent {
    this.#assertAlive('batch');
    if (typeof record !== 'function') {
      throw new InvalidArgumentError(
        'SKEIN_GPU_INVALID_ARGUMENT',
        `batch() takes a function (got ${typeof record})`,
      );
    }
    if (this.#batch !== undefined) {
      record();
      return new GpuEvent('batch', performance.now(), this.#settleBatch);
    }
    const batch = {
      encoder: this.raw.createCommandEncoder(),
      after: [] as (() => void)[],
      cleanup: [] as GPUBuffer[],
      events: [] as (() => void)[],
    };
    this.#batch = batch;
    let result: unknown;
    try {
      result = record();
    } catch (error) {
      this.#batch = undefined;
      for (const buffer of batch.cleanup) buffer.destroy();
      throw error;
    }
    this.#batch = undefined;
    if (result instanceof Promise) {
      result.catch(() => {});
      throw new InvalidArgumentError(
        'SKEIN_GPU_INVALID_ARGUMENT',
        'batch() records synchronously: its function returned a promise; record dispatches without await, read results after the batch',
      );
    }
    const submittedAt = performance.now();
    this.#submit(batch.encoder, batch);
    for (const submitted of batch.events) submitted();
    return new GpuEvent('batch', submittedAt, this.#settleBatch);
  }

  /** Settles when all work submitted so far has finished. */
  async flush(): Promise<void> {
    this.#assertAlive('flush');
    await this.#done(() => this.#checkAfterWait(), undefined);
  }

  /**
   * Waits for `start()` (a Dawn request that settles when submitted work is done) without polling on
   * the CPU all along. Dawn's binding polls with setImmediate from the request on, which keeps a core
   * busy for the whole wait, and on a software adapter (lavapipe) that core is one the GPU work runs
   * on (a 16M-element sum took ~28 ms instead of ~19). So after a kernel whose earlier waits were long,
   * the wait first sleeps for most of what they took, then makes the request. The estimate learns: a
   * wait that finds the work already done sleeps half as long next time; one that still polls a while
   * sleeps 3/4 of the shorter of it and the wait before next time. Waits after short kernels
   * (< MIN_SLEEP_MS) never sleep, and one long wait alone (a busy machine that descheduled this
   * thread, not a long kernel) does not make a short kernel's next wait sleep: measured on a loaded
   * lavapipe host, that had cost an empty dispatch ~30 sleeps of ~4 ms in 3,000 round trips.
   */
  #quietly<T, A = undefined, R = T>(
    start: () => Promise<T>,
    next?: (result: T, doneAt: number, arg: A) => R,
    arg?: A,
    failed?: (error: unknown) => never,
  ): Promise<R> {
    const stats = this.#lastDispatch;
    const sleep = stats === undefined ? 0 : stats.sleep;
    if (sleep < MIN_SLEEP_MS) return this.#poll(stats, 0, start, next, arg as A, failed);
    return new Promise((resolve) => setTimeout(resolve, sleep)).then(() =>
      this.#poll(stats, sleep, start, next, arg as A, failed),
    );
  }

  /**
   * Makes the request, learns from how long it took (see #quietly) and runs `next` on the result (or
   * `failed` on the error) in the same step: a small dispatch's whole round trip is tens of
   * microseconds, and each promise layer or closure between Dawn's answer and the caller costs.
   */
  #poll<T, A, R>(
    stats: WaitStats | undefined,
    sleep: number,
    start: () => Promise<T>,
    next: ((result: T, doneAt: number, arg: A) => R) | undefined,
    arg: A,
    failed: ((error: unknown) => never) | undefined,
  ): Promise<R> {
    const polling = performance.now();
    let request: Promise<T>;
    try {
      request = start();
    } catch (error) {
      // A request that threw instead of rejecting fails the same way.
      return Promise.reject(error).then(undefined, failed) as Promise<R>;
    }
    return request.then((result) => {
      const doneAt = performance.now();
      if (stats !== undefined) this.#learn(stats, sleep, doneAt - polling);
      return next === undefined ? (result as unknown as R) : next(result, doneAt, arg);
    }, failed);
  }

  /** Updates the sleep before the next wait after the kernel of `stats`: see #quietly. */
  #learn(stats: WaitStats, sleep: number, polled: number): void {
    const waited = sleep + polled;
    const before = stats.last;
    stats.last = waited;
    const next = polled < DONE_WHILE_ASLEEP_MS ? sleep / 2 : SLEEP_SHARE * Math.min(waited, before);
    stats.sleep = next < MIN_SLEEP_MS ? 0 : Math.min(next, MAX_SLEEP_MS);
    // The queue drained: a wait with nothing dispatched since sleeps for nothing.
    if (this.#lastDispatch === stats) this.#lastDispatch = undefined;
  }

  /**
   * Settles with `next(undefined, doneAt, arg)` once all submitted work is done (doneAt:
   * performance.now() then); `next` starts with #checkAfterWait(). `arg` spares the caller a closure.
   */
  #done<A, R>(next: (result: undefined, doneAt: number, arg: A) => R, arg: A): Promise<R> {
    return this.#quietly(this.#workDone, next, arg, this.#waitFailed);
  }

  /**
   * The wait of a lone dispatch's event: #done(#finishWall) with the layers between Dawn's request
   * and its answer folded into one step when the wait does not sleep (the common case), since each
   * call costs while V8 still interprets this code (the first few hundred round trips of a process).
   */
  #waitWall(event: GpuEvent): Promise<GpuEvent> {
    const stats = this.#lastDispatch;
    if (stats !== undefined && stats.sleep >= MIN_SLEEP_MS) return this.#done(this.#finishWall, event);
    const polling = performance.now();
    let request: Promise<undefined>;
    try {
      request = this.raw.queue.onSubmittedWorkDone();
    } catch (error) {
      return Promise.reject(error).then(undefined, this.#waitFailed);
    }
    return request.then((result) => {
      const doneAt = performance.now();
      if (stats !== undefined) this.#learn(stats, 0, doneAt - polling);
      return this.#finishWall(result, doneAt, event);
    }, this.#waitFailed);
  }

  /** After a wait for GPU work: rejects it if the device went meanwhile or refused work. */
  #checkAfterWait(): void {
    if (this.#gone !== undefined) throw this.#goneError('waiting for GPU work');
    this.#throwRefused();
  }

  /** Throws SKEIN_GPU_VALIDATION for a command Dawn refused since the last check. */
  #throwRefused(): void {
    const message = this.#refused;
    if (message === undefined) return;
    this.#refused = undefined;
    throw new SkeinError(
      'SKEIN_GPU_VALIDATION',
      `GPU device "${this.adapter.name}" refused work submitted before this wait, which did not run: ${message.split('\n')[0]}`,
      { cause: message },
    );
  }

  /**
   * Destroys every array made on the device, then the device. Later use of either throws
   * SKEIN_GPU_DESTROYED; pending reads reject with it. Idempotent.
   */
  destroy(): void {
    if (this.#gone !== undefined && this.#resources.size === 0) return;
    this.#gone ??= 'its device was destroyed';
    for (const resource of [...this.#resources]) resource.destroy();
    this.#resources.clear();
    this.#pipelines.clear();
    this.raw.destroy();
  }

  [Symbol.dispose](): void {
    this.destroy();
  }

  /**
   * Waits for the work submitted so far (pending reads settle normally), then destroys the device.
   * Idempotent: later calls get the same promise.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      try {
        if (this.#gone === undefined) {
          await this.raw.queue.onSubmittedWorkDone();
          await Promise.allSettled([...this.#reads]);
        }
      } finally {
        this.destroy();
      }
    })();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #goneError(what: string, cause?: unknown): SkeinError {
    return new SkeinError(
      'SKEIN_GPU_DESTROYED',
      `${what} failed: ${this.#gone ?? 'the device stopped'}; make a new device with requestDevice()`,
      cause === undefined ? undefined : { cause },
    );
  }

  #assertAlive(what: string): void {
    if (this.#gone !== undefined) {
      throw new SkeinError(
        'SKEIN_GPU_DESTROYED',
        `${what} on GPU device "${this.adapter.name}" after ${this.#gone}; make a new device with requestDevice()`,
      );
    }
  }

  #submit(encoder: GPUCommandEncoder, work: PendingWork): void {
    this.raw.queue.submit([encoder.finish()]);
    for (const buffer of work.cleanup) buffer.destroy();
    for (const after of work.after) after();
  }

  #encode(
    record: (encoder: GPUCommandEncoder) => void,
    cleanup?: readonly GPUBuffer[],
    after?: () => void,
  ): void {
    const batch = this.#batch;
    if (batch !== undefined) {
      record(batch.encoder);
      if (cleanup !== undefined) batch.cleanup.push(...cleanup);
      if (after !== undefined) batch.events.push(after);
      return;
    }
    const encoder = this.raw.createCommandEncoder();
    record(encoder);
    this.raw.queue.submit([encoder.finish()]);
    if (cleanup !== undefined) for (const buffer of cleanup) buffer.destroy();
    after?.();
  }

  /** Spans and the diagnostics channel for a dispatch, run in the same step that learns its timing. */
  #settled(name: string, submittedAt: number, elapsedMs: number, source: TimingSource): EventTiming {
    this.#spans?.record({
      kind: 'gpu',
      name,
      track: GPU_TRACE_TRACK + this.id,
      trackName: `gpu ${this.id}: ${this.adapter.name}`,
      start: submittedAt,
      end: submittedAt + elapsedMs,
      attributes: { layer: 'gpu', device: this.adapter.name, timing: source },
    });
    if (dispatchChannel.hasSubscribers)
      dispatchChannel.publish({ device: this.id, name, submittedAt, elapsedMs, source });
    return { elapsedMs, source };
  }

  #dispatch(
    name: string,
    record: (pass: GPUComputePassEncoder) => void,
    cleanup?: readonly GPUBuffer[],
    around?: PassSurroundings,
  ): GpuEvent {
    if (this.#gone !== undefined) this.#assertAlive(`dispatching ${name}`);
    let stats = this.#waits.get(name);
    if (stats === undefined) {
      stats = { sleep: 0, last: 0 };
      this.#waits.set(name, stats);
    }
    this.#lastDispatch = stats;
    if (this.#timestamps) return this.#timedDispatch(name, record, cleanup, around);
    const submittedAt = performance.now();
    if (this.#batch === undefined && !this.#profiling) {
      // The path of every lone dispatch: the calls of a hand-written submit, and no closure or list
      // made for it (a small dispatch's round trip is tens of microseconds on lavapipe).
      const encoder = this.raw.createCommandEncoder();
      around?.before(encoder);
      const pass = encoder.beginComputePass();
      record(pass);
      pass.end();
      around?.after(encoder);
      this.raw.queue.submit([encoder.finish()]);
      if (cleanup !== undefined) for (const buffer of cleanup) buffer.destroy();
      return new GpuEvent(name, submittedAt, this.#settleWall);
    }
    // A batch submits later and sets the time then; a profiled event starts its wait at the submit.
    let submitted = submittedAt;
    const event = new GpuEvent(name, submittedAt, () =>
      this.#done((_, doneAt) => {
        this.#checkAfterWait();
        return finishEvent(event, this.#settled(name, submitted, doneAt - submitted, 'wall'));
      }, undefined),
    );
    this.#encode(
      (encoder) => {
        around?.before(encoder);
        const pass = encoder.beginComputePass();
        record(pass);
        pass.end();
        around?.after(encoder);
      },
      cleanup,
      () => {
        submitted = performance.now();
        if (this.#profiling) event.wait().catch(() => {});
      },
    );
    return event;
  }

  /** A dispatch timed on the GPU: timestamps written around its pass, resolved and read back. */
  #timedDispatch(
    name: string,
    record: (pass: GPUComputePassEncoder) => void,
    cleanup: readonly GPUBuffer[] | undefined,
    around: PassSurroundings | undefined,
  ): GpuEvent {
    let submittedAt = performance.now();
    const querySet = this.raw.createQuerySet({ type: 'timestamp', count: 2 });
    const resolve = this.raw.createBuffer({
      size: 16,
      usage: BufferUsage.QUERY_RESOLVE | BufferUsage.COPY_SRC,
    });
    const readback = this.raw.createBuffer({ size: 16, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST });
    const event = new GpuEvent(name, submittedAt, async () => {
      try {
        await this.#quietly(() => readback.mapAsync(MAP_READ_MODE));
      } catch (error) {
        throw this.#goneError(`timing ${name}`, error);
      } finally {
        querySet.destroy();
      }
      const [start, end] = new BigUint64Array(readback.getMappedRange());
      readback.destroy();
      this.#throwRefused();
      // Timestamps are nanoseconds; a pass whose end reads before its start (a clock wrap) counts as 0.
      const elapsedMs = end! >= start! ? Number(end! - start!) / 1e6 : 0;
      return finishEvent(event, this.#settled(name, submittedAt, elapsedMs, 'timestamp'));
    });
    // Runs right after the submit that carries this pass (at the end of a batch): the readback starts
    // only then, since mapping a buffer that an unsubmitted command copies into is invalid.
    const submitted = (): void => {
      submittedAt = performance.now();
      event.wait().catch(() => {});
    };
    this.#encode(
      (encoder) => {
        around?.before(encoder);
        const pass = encoder.beginComputePass({
          timestampWrites: { querySet, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 },
        });
        record(pass);
        pass.end();
        around?.after(encoder);
        encoder.resolveQuerySet(querySet, 0, 2, resolve, 0);
        encoder.copyBufferToBuffer(resolve, 0, readback, 0, 16);
      },
      cleanup === undefined ? [resolve] : [...cleanup, resolve],
      submitted,
    );
    return event;
  }

  #makeInternals(): DeviceInternals {
    const device = this;
    return {
      raw: this.raw,
      assertAlive: (what) => this.#assertAlive(what),
      track: (resource) => this.#resources.add(resource),
      untrack: (resource) => this.#resources.delete(resource),
      encode: (record, cleanup) => this.#encode(record, cleanup),
      // Bound rather than wrapped: one call frame fewer on every dispatch.
      dispatch: this.#dispatch.bind(this),
      throwRefused: () => this.#throwRefused(),
      quietly: (start) => this.#quietly(start),
      reading: (read) => {
        this.#reads.add(read);
        const forget = (): void => {
          this.#reads.delete(read);
        };
        read.then(forget, forget);
        return read;
      },
      afterSubmit: (fn) => {
        if (this.#batch === undefined) fn();
        else this.#batch.after.push(fn);
      },
      get batching() {
        return device.#batch !== undefined;
      },
      pipelines: this.#pipelines,
    };
  }
}
