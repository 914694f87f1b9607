// GPU memory management: arrays freed by `using` or destroy(), views that share memory, asynchronous
// transfers, and the typed error a destroyed array gives.
// Run: node examples/gpu/memory.ts
import type { SkeinError } from 'skein';
import { empty, fromHost, requestDevice } from 'skein/gpu';

using device = await requestDevice();
{
  using matrix = fromHost(device, new Float32Array([1, 2, 3, 4, 5, 6]), { shape: [3, 2] });
  const lastRows = matrix.slice(1); // a view: no copy
  lastRows.fill(0);
  console.log(`matrix after zeroing rows 1..2 through a view: ${[...(await matrix.toHost())].join(' ')}`);
} // `using` destroyed the matrix (and so its views) here

const scratch = empty(device, [1024], 'u32');
const reading = scratch.fill(7).toHost(); // transfers are asynchronous: start the read, await it later
console.log(`scratch holds ${(await reading).filter((v) => v === 7).length} sevens`);
scratch.destroy();
try {
  await scratch.toHost();
} catch (error) {
  console.log(`using a destroyed array: ${(error as SkeinError).code}`);
}
