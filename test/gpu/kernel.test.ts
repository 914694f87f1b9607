// Kernels from WGSL source: bound by name (arrays and uniform structs), dispatched by global size,
// batched into one submit and profiled; compile errors as KernelCompileError with name, line, column,
// the source line and a caret, for generated kernels pointing into the user's expression.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { KernelCompileError } from '../../src/errors.ts';
import {
  compileKernel,
  elementwise,
  fromHost,
  type GpuDevice,
  reduction,
  requestDevice,
  zeros,
} from '../../src/gpu/index.ts';
import { toChromeTrace } from '../../src/trace/index.ts';
import { NO_ADAPTER } from './support.ts';

let device: GpuDevice;
before(async () => {
  if (!NO_ADAPTER) device = await requestDevice({ trace: true });
});
after(() => device?.destroy());
const skip = NO_ADAPTER;

const SCALE = `
struct Params { factor: f32, offset: vec2<f32>, count: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3u) {
  if (id.x < params.count) { y[id.x] = x[id.x] * params.factor + params.offset.y; }
}`;

test('a WGSL kernel binds arrays and a uniform struct by name and covers a size that is not a multiple of its workgroup', {
  skip,
}, async () => {
  const kernel = await compileKernel(device, SCALE, { name: 'scale' });
  assert.deepEqual(kernel.workgroupSize, [64, 1, 1]);
  assert.deepEqual(
    kernel.bindings.map((b) => [b.name, b.kind]),
    [
      ['x', 'read-only-storage'],
      ['y', 'storage'],
      ['params', 'uniform'],
    ],
  );
  const n = 1000;
  using x = fromHost(
    device,
    new Float32Array(n).map((_, i) => i),
  );
  using y = zeros(device, n);
  const event = kernel.run({ x, y, params: { factor: 2, offset: [0, 0.5], count: n } }, { global: n });
  await event.wait();
  assert.equal(event.source, device.timestamps ? 'timestamp' : 'wall');
  const out = await y.toHost();
  assert.ok(out.every((v, i) => v === i * 2 + 0.5));
});

test('back-to-back runs without waiting each see their own uniforms and arrays, in and out of a batch', {
  skip,
}, async () => {
  // Outside a batch a kernel rewrites one uniform buffer per binding and reuses its bind group while the
  // arrays stay the same; inside a batch each run gets its own uniform buffer. Either way every run must
  // see the values it was given, never a later run's.
  const accumulate = await compileKernel(
    device,
    `struct Params { factor: f32, add: f32, count: u32 }
@group(0) @binding(0) var<storage, read_write> y: array<f32>;
@group(0) @binding(1) var<uniform> params: Params;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3u) {
  if (id.x < params.count) { y[id.x] = y[id.x] * params.factor + params.add; }
}`,
    { name: 'accumulate' },
  );
  const n = 130;
  const hosts = [new Float32Array(n).fill(1), new Float32Array(n).map((_, i) => i)];
  const arrays = hosts.map((host) => fromHost(device, host));
  const expected = hosts.map((host) => Float64Array.from(host));
  const step = (k: number): void => {
    const which = k % 3 === 0 ? 1 : 0; // mostly the same array, so the bind group is reused, sometimes not
    const factor = 1 + (k % 4) * 0.25;
    const add = k % 5;
    accumulate.run({ y: arrays[which]!, params: { factor, add, count: n } }, { global: n });
    expected[which] = expected[which]!.map((v) => Math.fround(Math.fround(v * factor) + add));
  };
  for (let k = 0; k < 40; k++) step(k);
  device.batch(() => {
    for (let k = 40; k < 60; k++) step(k);
  });
  for (let k = 60; k < 70; k++) step(k);
  // A new array in place of a destroyed one gets a new bind group.
  arrays[0]!.destroy();
  arrays[0] = fromHost(device, new Float32Array(n).fill(2));
  expected[0] = new Float64Array(n).fill(2);
  for (let k = 70; k < 80; k++) step(k);
  for (const [which, array] of arrays.entries()) {
    const got = await array.toHost();
    for (let i = 0; i < n; i++) {
      const want = expected[which]![i]!;
      assert.ok(
        Math.abs(got[i]! - want) <= 1e-5 * Math.max(1, Math.abs(want)),
        `array ${which}[${i}]: ${got[i]} vs ${want}`,
      );
    }
    array.destroy();
  }
});

test('a view at an offset the device cannot bind runs on an aligned copy and is written back', {
  skip,
}, async () => {
  const kernel = await compileKernel(device, SCALE);
  using x = fromHost(device, new Float32Array(10).fill(1));
  using y = zeros(device, 10);
  kernel.run(
    { x: x.slice(1, 4), y: y.slice(3, 6), params: { factor: 3, offset: [0, 1], count: 3 } },
    { global: 3 },
  );
  assert.deepEqual([...(await y.toHost())], [0, 0, 0, 4, 4, 4, 0, 0, 0, 0]);
});

test('a compile error is a KernelCompileError with the kernel name, line, column, source line and caret', {
  skip,
}, async () => {
  const source = '@compute @workgroup_size(1)\nfn main() {\n  let q = 1 + ;\n}';
  await assert.rejects(compileKernel(device, source, { name: 'broken' }), (error: KernelCompileError) => {
    assert.ok(error instanceof KernelCompileError);
    assert.equal(error.code, 'SKEIN_GPU_COMPILE');
    assert.equal(error.kernel, 'broken');
    assert.equal(error.line, 3);
    assert.ok(error.column > 10);
    assert.equal(error.sourceLine, '  let q = 1 + ;');
    assert.match(error.message, /kernel "broken" failed to compile: 3:\d+: .*\n {4}let q = 1 \+ ;\n {2} +\^/);
    return true;
  });
});

test('a compile error in a generated kernel points at the user expression, not the generated WGSL', {
  skip,
}, async () => {
  await assert.rejects(
    elementwise(device, 'y = a * q + b', { y: 'f32[]', a: 'f32', b: 'f32' }, { name: 'saxpb' }),
    (error: KernelCompileError) => {
      assert.equal(error.code, 'SKEIN_GPU_COMPILE');
      assert.equal(error.kernel, 'saxpb');
      assert.deepEqual([error.line, error.column, error.sourceLine], [1, 9, 'y = a * q + b;']);
      assert.match(error.message, /\n {2}y = a \* q \+ b;\n {2} {8}\^/);
      return true;
    },
  );
  await assert.rejects(reduction(device, { op: { combine: 'a ** b', identity: '1.0' }, name: 'power' }), {
    code: 'SKEIN_GPU_COMPILE',
    message: /a \*\* b\n/,
  });
});

test('running with a missing, unknown or wrongly typed binding throws before anything reaches the GPU', {
  skip,
}, async () => {
  const kernel = await compileKernel(device, SCALE, { name: 'scale' });
  using x = zeros(device, 4);
  using y = zeros(device, 4);
  using ints = zeros(device, 4, 'i32');
  const params = { factor: 1, offset: [0, 0], count: 4 };
  assert.throws(() => kernel.run({ x, params }, { global: 4 }), {
    code: 'SKEIN_GPU_INVALID_ARGUMENT',
    message: /binding y/,
  });
  assert.throws(() => kernel.run({ x, y, z: x, params }, { global: 4 }), {
    code: 'SKEIN_GPU_INVALID_ARGUMENT',
    message: /no binding z/,
  });
  assert.throws(() => kernel.run({ x: ints, y, params }, { global: 4 }), {
    code: 'SKEIN_GPU_DTYPE_MISMATCH',
  });
  assert.throws(() => kernel.run({ x, y, params: { factor: 1 } }, { global: 4 }), {
    code: 'SKEIN_GPU_INVALID_ARGUMENT',
    message: /params\.offset/,
  });
  assert.throws(() => kernel.run({ x, y, params }, { global: -1 }), {
    code: 'SKEIN_GPU_INVALID_ARGUMENT',
    message: /global/,
  });
  assert.throws(() => kernel.run({ x: y, y, params }, { global: 4 }), {
    code: 'SKEIN_GPU_INVALID_ARGUMENT',
    message: /x and y share memory/,
  });
  using wide = zeros(device, 8);
  kernel.run({ x: wide.slice(0, 4), y: wide.slice(4), params }, { global: 4 });
  const gone = zeros(device, 4);
  gone.destroy();
  assert.throws(() => kernel.run({ x: gone, y, params }, { global: 4 }), { code: 'SKEIN_GPU_DESTROYED' });
  // An array a kernel ran with before (its checks remembered) and destroyed since is refused too.
  const used = zeros(device, 4);
  kernel.run({ x: used, y, params }, { global: 4 });
  used.destroy();
  assert.throws(() => kernel.run({ x: used, y, params }, { global: 4 }), { code: 'SKEIN_GPU_DESTROYED' });
  // The same array bound to another binding is still checked against the others.
  assert.throws(() => kernel.run({ x: y, y, params }, { global: 4 }), { message: /x and y share memory/ });
});

test('a batch records many dispatches into one submit, and profiled events carry GPU or wall times and trace spans', {
  skip,
}, async () => {
  const increment = await elementwise(device, 'x = x + 1.0', { x: 'f32[]' }, { name: 'increment' });
  using x = zeros(device, 777);
  const events: { wait(): Promise<unknown>; elapsedMs: number | undefined; source: string | undefined }[] =
    [];
  let readInside: Promise<unknown> | undefined;
  const batch = device.batch(() => {
    for (let i = 0; i < 50; i++) events.push(increment.run({ x }));
    readInside = x.toHost();
  });
  await assert.rejects(readInside!, { code: 'SKEIN_GPU_INVALID_ARGUMENT', message: /batch/ });
  await batch.wait();
  assert.ok((await x.toHost()).every((v) => v === 50));
  await Promise.all(events.map((event) => event.wait()));
  for (const event of events) {
    assert.ok(event.elapsedMs! >= 0);
    assert.equal(event.source, device.timestamps ? 'timestamp' : 'wall');
  }
  const spans = device.spans().filter((span) => span.name === 'increment');
  assert.equal(spans.length, 50);
  assert.ok(spans.every((span) => span.end >= span.start && span.attributes?.layer === 'gpu'));
  assert.ok(spans.every((span) => span.kind === 'gpu' && span.trackName?.startsWith(`gpu ${device.id}: `)));
  // In a Chrome/Perfetto trace the device's track is named for it, not as a pool worker.
  const names = toChromeTrace(spans).traceEvents.filter((event) => event.name === 'thread_name');
  assert.deepEqual(
    names.map((event) => (event.args as { name: string }).name),
    [`gpu ${device.id}: ${device.adapter.name}`],
  );
  assert.throws(() => device.batch((async () => {}) as never), {
    code: 'SKEIN_GPU_INVALID_ARGUMENT',
    message: /synchronously/,
  });
});

test('without profiling an event still settles when the GPU is done, timed from submit to completion', {
  skip,
}, async () => {
  using plain = await requestDevice();
  assert.equal(plain.timestamps, false);
  const kernel = await compileKernel(plain, SCALE, { name: 'scale' });
  using x = fromHost(plain, new Float32Array(64).fill(1));
  using y = zeros(plain, 64);
  const event = kernel.run({ x, y, params: { factor: 4, offset: [0, 0], count: 64 } }, { global: 64 });
  assert.equal(event.elapsedMs, undefined);
  assert.equal(await event.wait(), event);
  assert.equal(event.source, 'wall');
  assert.ok(event.elapsedMs! >= 0);
  assert.equal(event.name, 'scale');
  assert.deepEqual(plain.spans(), []);
  assert.ok((await y.toHost()).every((v) => v === 4));
});

test('work Dawn refuses (an array smaller than a fixed-size binding) fails the next wait with SKEIN_GPU_VALIDATION', {
  skip,
}, async () => {
  using own = await requestDevice();
  const kernel = await compileKernel(
    own,
    '@group(0) @binding(0) var<storage, read_write> x: array<f32, 8>;\n@compute @workgroup_size(1) fn main() { x[7] = 1.0; }',
    { name: 'fixed' },
  );
  using small = zeros(own, 4);
  const event = kernel.run({ x: small }, { global: 1 });
  await assert.rejects(event.wait(), { code: 'SKEIN_GPU_VALIDATION', message: /too small/ });
  // Reported once: the device goes on working.
  using big = zeros(own, 8);
  await kernel.run({ x: big }, { global: 1 }).wait();
  assert.equal((await big.toHost())[7], 1);
});

/**
 * Counts every call of a Dawn method and every read of a Dawn getter on the prototypes of `objects`
 * while `run` runs; restores the prototypes after.
 */
async function countDawnCalls(objects: object[], run: () => Promise<void>): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  const restore: (() => void)[] = [];
  for (const object of objects) {
    const proto = Object.getPrototypeOf(object) as Record<string, unknown>;
    const label = proto.constructor === Object ? 'object' : (proto.constructor as { name: string }).name;
    for (const [name, descriptor] of Object.entries(Object.getOwnPropertyDescriptors(proto))) {
      if (name === 'constructor' || !descriptor.configurable) continue;
      const key = `${label}.${name}`;
      const count = (): void => {
        counts.set(key, (counts.get(key) ?? 0) + 1);
      };
      const { value, get } = descriptor;
      if (typeof value === 'function') {
        Object.defineProperty(proto, name, {
          ...descriptor,
          value(this: unknown, ...args: unknown[]) {
            count();
            return value.apply(this, args);
          },
        });
      } else if (get !== undefined) {
        Object.defineProperty(proto, name, {
          ...descriptor,
          get(this: unknown) {
            count();
            return get.call(this);
          },
        });
      } else continue;
      restore.push(() => Object.defineProperty(proto, name, descriptor));
    }
  }
  try {
    await run();
  } finally {
    for (const undo of restore) undo();
  }
  return counts;
}

test('a run that binds what the last run bound makes the Dawn calls of a hand-written dispatch and no others', {
  skip,
}, async () => {
  using plain = await requestDevice();
  const raw = plain.raw;
  const kernel = await compileKernel(
    plain,
    '@group(0) @binding(0) var<storage, read_write> x: array<u32>;\n@compute @workgroup_size(1) fn main() { x[0] += 1u; }',
  );
  using x = zeros(plain, 1, 'u32');
  using other = zeros(plain, 1, 'u32');
  await kernel.run({ x }, { global: 1 }).wait();
  const encoder = raw.createCommandEncoder();
  const pass = encoder.beginComputePass();
  pass.end();
  const dawnObjects = [raw, raw.queue, encoder, pass, encoder.finish(), x.buffer];
  const rounds = 5;
  const same = await countDawnCalls(dawnObjects, async () => {
    for (let i = 0; i < rounds; i++) await kernel.run({ x }, { global: 1 }).wait();
  });
  const perRun = Object.fromEntries([...same].map(([key, count]) => [key, count / rounds]));
  const handWritten = [
    'createCommandEncoder',
    'beginComputePass',
    'setPipeline',
    'setBindGroup',
    'dispatchWorkgroups',
    'end',
    'finish',
    'submit',
    'onSubmittedWorkDone',
  ];
  assert.deepEqual(
    Object.keys(perRun)
      .map((key) => key.split('.')[1])
      .sort(),
    [...handWritten].sort(),
  );
  assert.ok(
    Object.values(perRun).every((count) => count === 1),
    JSON.stringify(perRun),
  );
  // Another array in the binding takes one bind group more, once; binding x again takes the same again.
  const changed = await countDawnCalls(dawnObjects, async () => {
    await kernel.run({ x: other }, { global: 1 }).wait();
    await kernel.run({ x: other }, { global: 1 }).wait();
  });
  assert.equal([...changed].find(([key]) => key.endsWith('.createBindGroup'))?.[1], 1);
  assert.deepEqual(await x.toHost(), new Uint32Array([rounds + 1]));
  assert.deepEqual(await other.toHost(), new Uint32Array([2]));
});
