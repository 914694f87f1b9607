// Devices: adapters listed with info and limits, picked by preference and name, typed errors when none
// exists (with how to get one) or none matches, and Dawn's lifetime traps hidden: a program with live
// devices exits by itself, and forced garbage collections with live devices do not crash.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { SkeinError } from '../../src/errors.ts';
import { full, type GpuDevice, listAdapters, requestDevice } from '../../src/gpu/index.ts';
import { NO_ADAPTER } from './support.ts';

const run = promisify(execFile);
const CHILD_TIMEOUT_MS = 60_000;
const FIXTURE = fileURLToPath(new URL('./fixtures/live-device-then-return.ts', import.meta.url));

test('listAdapters describes each adapter with its name, features and limits', {
  skip: NO_ADAPTER,
}, async () => {
  const adapters = await listAdapters();
  assert.ok(adapters.length >= 1);
  for (const adapter of adapters) {
    assert.ok(adapter.name.length > 0);
    assert.equal(typeof adapter.software, 'boolean');
    assert.ok(adapter.limits.maxStorageBufferBindingSize! >= 128 * 1024 * 1024);
    assert.ok(adapter.limits.maxComputeWorkgroupSizeX! >= 256);
    assert.ok(Array.isArray(adapter.features));
    assert.ok(Object.isFrozen(adapter));
  }
});

test('requestDevice picks an adapter by a part of its name and raises the buffer limits to the adapter maxima', {
  skip: NO_ADAPTER,
}, async () => {
  const [first] = await listAdapters();
  using device = await requestDevice({ adapter: first!.name.slice(0, 8).toUpperCase(), profiling: true });
  assert.equal(device.adapter.name, first!.name);
  assert.equal(device.limits.maxStorageBufferBindingSize, first!.limits.maxStorageBufferBindingSize);
  assert.equal(device.options.profiling, true);
  assert.equal(device.f16, first!.features.includes('shader-f16'));
  assert.equal(device.subgroups, first!.features.includes('subgroups'));
  using byPreference = await requestDevice({ powerPreference: 'high-performance' });
  assert.ok(byPreference.adapter.name.length > 0);
});

test('requestDevice with a name no adapter has throws SKEIN_GPU_NO_ADAPTER listing the adapters there are', {
  skip: NO_ADAPTER,
}, async () => {
  const [first] = await listAdapters();
  await assert.rejects(requestDevice({ adapter: 'no-such-gpu-9000' }), (error: SkeinError) => {
    assert.equal(error.code, 'SKEIN_GPU_NO_ADAPTER');
    assert.ok(error.message.includes('no-such-gpu-9000'));
    assert.ok(error.message.includes(first!.name));
    return true;
  });
});

test('requestDevice rejects bad options with SKEIN_GPU_INVALID_ARGUMENT naming the option', async () => {
  await assert.rejects(requestDevice({ powerPreference: 'fast' as never }), {
    code: 'SKEIN_GPU_INVALID_ARGUMENT',
    message: /options\.powerPreference/,
  });
  await assert.rejects(requestDevice({ profiling: 'yes' as never }), {
    code: 'SKEIN_GPU_INVALID_ARGUMENT',
    message: /options\.profiling/,
  });
  await assert.rejects(requestDevice({ adapter: 42 as never }), {
    code: 'SKEIN_GPU_INVALID_ARGUMENT',
    message: /options\.adapter/,
  });
});

const NOT_VULKAN_LOADER =
  process.platform === 'linux' ? false : 'hiding the drivers uses the Vulkan loader variables of Linux';

test('without any Vulkan driver requestDevice throws SKEIN_GPU_NO_ADAPTER saying how to install lavapipe', {
  skip: NOT_VULKAN_LOADER,
}, async () => {
  const program = `
    import { requestDevice, listAdapters } from ${JSON.stringify(new URL('../../src/gpu/index.ts', import.meta.url).href)};
    console.log(JSON.stringify({ adapters: (await listAdapters()).length }));
    try { await requestDevice(); console.log('{"made":true}'); }
    catch (error) { console.log(JSON.stringify({ code: error.code, message: error.message })); }`;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', program], {
    timeout: CHILD_TIMEOUT_MS,
    // An ICD list naming no driver: the Vulkan loader finds nothing, as on a machine without one.
    env: {
      ...process.env,
      VK_ICD_FILENAMES: '/nonexistent/skein-no-driver.json',
      VK_DRIVER_FILES: '/nonexistent/skein-no-driver.json',
    },
  });
  const lines = stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  assert.deepEqual(lines[0], { adapters: 0 });
  assert.equal(lines[1]!.code, 'SKEIN_GPU_NO_ADAPTER');
  assert.match(String(lines[1]!.message), /lavapipe.*bookworm-backports.*mesa-vulkan-drivers/s);
});

test('a program that leaves devices, arrays and kernels alive exits by itself when its work is done', {
  skip: NO_ADAPTER,
}, async () => {
  const started = performance.now();
  const { stdout } = await run(process.execPath, [FIXTURE], { timeout: CHILD_TIMEOUT_MS });
  assert.equal(stdout.trim(), `total ${4096 * 4}`);
  // Bounded by the timeout above: a hang would fail there, not on a timing assertion here.
  assert.ok(performance.now() - started < CHILD_TIMEOUT_MS);
});

test('forced garbage collections while a device and its arrays live do not crash, and the program still exits', {
  skip: NO_ADAPTER,
}, async () => {
  const { stdout } = await run(process.execPath, ['--expose-gc', FIXTURE], { timeout: CHILD_TIMEOUT_MS });
  assert.equal(stdout.trim(), `total ${4096 * 4}`);
});

test('a destroyed device refuses new work with SKEIN_GPU_DESTROYED, and destroy is idempotent', {
  skip: NO_ADAPTER,
}, async () => {
  const device = await requestDevice();
  device.destroy();
  device.destroy();
  assert.equal(device.destroyed, true);
  assert.throws(() => device.batch(() => {}), { code: 'SKEIN_GPU_DESTROYED', message: /destroyed/ });
  await assert.rejects(device.flush(), { code: 'SKEIN_GPU_DESTROYED' });
});

test('close() lets submitted work and pending reads finish, then destroys the device; `await using` closes', {
  skip: NO_ADAPTER,
}, async () => {
  let kept: GpuDevice | undefined;
  let read: Promise<Float32Array> | undefined;
  {
    await using device = await requestDevice();
    kept = device;
    const x = full(device, [100_000], 3);
    read = x.toHost();
  }
  assert.equal(kept.destroyed, true);
  assert.ok((await read!).every((v) => v === 3));
  assert.equal(kept.close(), kept.close());
});
