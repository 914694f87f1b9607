// GPU device discovery: every WebGPU adapter this machine offers (a GPU through its driver, or the CPU
// through lavapipe), with the limits that matter for compute, then a device opened on the best one.
// Run: node examples/gpu/device-info.ts
import { listAdapters, requestDevice } from 'skein/gpu';

const adapters = await listAdapters();
console.log(`${adapters.length} adapter(s)`);
for (const adapter of adapters) {
  console.log(`adapter: ${adapter.name} (${adapter.software ? 'software, on the CPU' : 'GPU'})`);
  console.log(`  max buffer binding: ${adapter.limits.maxStorageBufferBindingSize} bytes`);
  console.log(`  max workgroup size: ${adapter.limits.maxComputeInvocationsPerWorkgroup} invocations`);
  console.log(`  features: ${adapter.features.join(', ')}`);
}
using device = await requestDevice({ powerPreference: 'high-performance' });
console.log(`device opened on ${device.adapter.name}: f16 ${device.f16}, subgroups ${device.subgroups}`);
