// The matmul kernel for real GPUs: shared-memory tiles with register blocking, generated per tile shape.
// A workgroup computes a bm x bn tile of C; each invocation a tm x tn block of it, held in named vec4
// registers (no arrays, so nothing can spill to local memory through dynamic indexing). A is staged
// transposed in workgroup memory and B as is, both as vec4, so the inner step reads tm/4 + tn/4 vec4s and
// does tm*tn fused multiply-adds. The next tile's global loads are issued before the current tile's
// arithmetic (software pipelining through registers), which hides most of the memory latency without a
// second buffer. The inner loops are unrolled in the generated text rather than left to the driver.
// Rows of one invocation are 4 consecutive rows every (bm / tm * 4) rows, and likewise columns, so a
// warp's vec4 reads of a tile row are contiguous and conflict-free.
// Needs k and n to be multiples of 4 (vec4 loads of A's rows and B's rows); m is free. Sizes that fill
// every tile get a second kernel without bounds clamps on its loads and stores (`exact`): on an NVIDIA
// H200 the clamped one ran at 35 TFLOP/s and the exact one at 41-43, the largest single step of the
// tuning (the clamps' select and min on every load seem to keep the driver's compiler from its best
// schedule; switching Dawn's own robustness clamps off made the exact kernel slower, not faster). The
// next largest was peeling the last K step out of the loop (`peel`), so the loop body carries no branch
// around the next tile's loads: +16% exact and clamped with K in steps of 8.

/** One tile shape of the generated kernel. */
export interface TileShape {
  /** Rows of C per workgroup. */
  readonly bm: number;
  /** Columns of C per workgroup. */
  readonly bn: number;
  /** Depth of one K step (a multiple of 4). */
  readonly bk: number;
  /** Rows of C per invocation (a multiple of 4). */
  readonly tm: number;
  /** Columns of C per invocation (a multiple of 4). */
  readonly tn: number;
  /**
   * 2: two tile buffers in workgroup memory, one barrier per K step (the next tile is stored while the
   * current one is read); 1: one buffer, two barriers per step. @defaultValue 1
   */
  readonly stages?: 1 | 2;
  /**
   * How the invocations of one 32-lane subgroup cover the workgroup's grid of invocations: 'rows' (the
   * launch order: a subgroup is 32 consecutive invocations of x), 'blocks' (a subgroup is an 8 x 4 block,
   * so its reads of workgroup memory touch 4 rows of A and 8 columns of B instead of 2 and 16).
   * @defaultValue 'rows'
   */
  readonly lanes?: 'rows' | 'blocks';
  /**
   * Workgroups walk C in bands of this many tile rows, column by column inside a band, so the tiles
   * running at one time share rows of A and columns of B in the GPU's cache. 0 = row by row. @defaultValue 0
   */
  readonly swizzle?: number;
  /**
   * The caller guarantees m % bm, n % bn and k % bk are 0: global loads and stores skip their bounds
   * clamps. linalg() ignores it: it compiles every tile shape both ways and takes the exact kernel for
   * the products whose sizes fill every tile. @defaultValue false
   */
  readonly exact?: boolean;
  /**
   * Run the last K step after the loop, so the loop body has no test for a next tile to fetch (one stage
   * only). @defaultValue false
   */
  readonly peel?: boolean;
}

/**
 * 128 x 128 tiles, 8 x 8 per invocation, K in steps of 8 with the last step peeled: 256 invocations, 8 KiB
 * of workgroup memory; subgroups as 8 x 4 blocks, workgroups in bands of 8 tile rows. On an NVIDIA H200
 * (Vulkan, bench/gpu/matmul-tiles.ts) this was the fastest at 4096², 44.7–45.3 TFLOP/s with exact sizes
 * (linalg's unclamped kernel; without the peel 38.3–38.6, K in steps of 16 41.7–42.2), and also the fastest
 * clamped shape (39.4 at 4000²; without the peel 33.7). 16 x 8 or 8 x 16 per invocation, a second buffer
 * (stages: 2) or K in steps of 32 were 30–40.
 */
export const GPU_TILE_SHAPE: TileShape = Object.freeze({
  bm: 128,
  bn: 128,
  bk: 8,
  tm: 8,
  tn: 8,
  lanes: 'blocks',
  swizzle: 8,
  peel: true,
});

/**
 * 64 x 64 tiles, 4 x 4 per invocation, K in steps of 16 (256 invocations): for products too small to give
 * GPU_TILE_SHAPE's tiles enough workgroups (linalg.ts SMALL_GRID_WORKGROUPS). The fastest shape at 1024²
 * on the H200.
 */
export const GPU_SMALL_TILE_SHAPE: TileShape = Object.freeze({
  bm: 64,
  bn: 64,
  bk: 16,
  tm: 4,
  tn: 4,
});

/** The workgroup size [x, y] of a tile shape. */
export function tileWorkgroup(shape: TileShape): [number, number] {
  return [shape.bn / shape.tn, shape.bm / shape.tm];
}

/** Why a tile shape cannot be generated, or undefined when it can. */
export function tileShapeProblem(shape: TileShape, maxInvocations = 256): string | undefined {
  const { bm, bn, bk, tm, tn } = shape;
  for (const [name, value] of Object.entries({ bm, bn, bk, tm, tn })) {
    if (!Number.isInteger(value) || value < 4 || value % 4 !== 0) return `${name} must be a multiple of 4`;
  }
  if (shape.stages !== undefined && shape.stages !== 1 && shape.stages !== 2) return 'stages must be 1 or 2';
  if (bm % tm !== 0 || bn % tn !== 0) return 'bm must be a multiple of tm and bn of tn';
  const [wx, wy] = tileWorkgroup(shape);
  const threads = wx * wy;
  if (shape.lanes === 'blocks' && (wx % 8 !== 0 || wy % 4 !== 0)) {
    return "lanes 'blocks' needs bn / tn a multiple of 8 and bm / tm a multiple of 4";
  }
  if (shape.peel !== undefined && typeof shape.peel !== 'boolean') return 'peel must be true or false';
  if (shape.peel === true && shape.stages === 2) return 'peel needs stages: 1 (two stages already peel)';
  if (shape.swizzle !== undefined && (!Number.isInteger(shape.swizzle) || shape.swizzle < 0)) {
    return 'swizzle must be a whole number of tile rows (0 for none)';
  }
  if (threads > maxInvocations) return `${threads} invocations per workgroup (at most ${maxInvocations})`;
  if (((bm * bk) / 4) % threads !== 0 || ((bk * bn) / 4) % threads !== 0) {
    return `the ${bm}x${bk} and ${bk}x${bn} tiles must split evenly into vec4 loads over ${threads} invocations`;
  }
  return undefined;
}

/** The WGSL source of the tiled kernel for one shape (bindings a, b, c, params as the other variants). */
export function tiledVec4Source(shape: TileShape): string {
  const problem = tileShapeProblem(shape);
  if (problem !== undefined) throw new RangeError(`matmul tile shape: ${problem}`);
  const { bm, bn, bk, tm, tn } = shape;
  const stages = shape.stages ?? 1;
  const [wx, wy] = tileWorkgroup(shape);
  const threads = wx * wy;
  const bk4 = bk / 4;
  const bm4 = bm / 4;
  const bn4 = bn / 4;
  const loadsA = (bm * bk) / 4 / threads;
  const loadsB = (bk * bn) / 4 / threads;
  const groupsM = tm / 4;
  const groupsN = tn / 4;
  const lines: string[] = [];
  const emit = (line: string): void => {
    lines.push(line);
  };

  emit('struct Params { m: u32, n: u32, k: u32, pad: u32 }');
  emit('@group(0) @binding(0) var<storage, read> a: array<vec4<f32>>;');
  emit('@group(0) @binding(1) var<storage, read> b: array<vec4<f32>>;');
  emit('@group(0) @binding(2) var<storage, read_write> c: array<vec4<f32>>;');
  emit('@group(0) @binding(3) var<uniform> params: Params;');
  // tileA[kk * bm4 + r4] holds rows 4*r4..4*r4+3 of A's tile at depth kk; tileB[kk * bn4 + c4] columns.
  emit(`var<workgroup> tileA: array<vec4<f32>, ${stages * bk * bm4}>;`);
  emit(`var<workgroup> tileB: array<vec4<f32>, ${stages * bk * bn4}>;`);
  emit(`@compute @workgroup_size(${wx}, ${wy})`);
  emit(
    'fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) groups: vec3u) {',
  );
  emit(`  let tid = lid.y * ${wx}u + lid.x;`);
  if (shape.lanes === 'blocks') {
    emit('  let warp = tid / 32u;');
    emit('  let lane = tid % 32u;');
    emit(`  let tx = (warp % ${wx / 8}u) * 8u + lane % 8u;`);
    emit(`  let ty = (warp / ${wx / 8}u) * 4u + lane / 8u;`);
  } else {
    emit('  let tx = lid.x;');
    emit('  let ty = lid.y;');
  }
  const swizzle = shape.swizzle ?? 0;
  if (swizzle > 0) {
    emit('  let linear = wg.y * groups.x + wg.x;');
    emit(`  let bandSize = ${swizzle}u * groups.x;`);
    emit(`  let firstRow = (linear / bandSize) * ${swizzle}u;`);
    emit(`  let bandRows = min(groups.y - firstRow, ${swizzle}u);`);
    emit('  let inBand = linear % bandSize;');
    emit('  let tileRow = firstRow + inBand % bandRows;');
    emit('  let tileCol = inBand / bandRows;');
  } else {
    emit('  let tileRow = wg.y;');
    emit('  let tileCol = wg.x;');
  }
  emit(`  let row0 = tileRow * ${bm}u;`);
  emit(`  let col40 = tileCol * ${bn4}u;`);
  emit('  let k4 = params.k / 4u;');
  emit('  let n4 = params.n / 4u;');
  emit('  let lastRow = params.m - 1u;');
  // Per-invocation load coordinates, fixed for the whole K loop.
  for (let l = 0; l < loadsA; l++) {
    emit(`  let ae${l} = tid + ${l * threads}u;`);
    emit(`  let ar${l} = ae${l} / ${bk4}u;`);
    emit(`  let aq${l} = ae${l} % ${bk4}u;`);
    emit(`  let aok${l} = row0 + ar${l} < params.m;`);
    emit(`  let abase${l} = min(row0 + ar${l}, lastRow) * k4;`);
  }
  for (let l = 0; l < loadsB; l++) {
    emit(`  let be${l} = tid + ${l * threads}u;`);
    emit(`  let bkk${l} = be${l} / ${bn4}u;`);
    emit(`  let bc${l} = be${l} % ${bn4}u;`);
    emit(`  let bok${l} = col40 + bc${l} < n4;`);
    emit(`  let bcol${l} = min(col40 + bc${l}, n4 - 1u);`);
  }
  for (let i = 0; i < tm * groupsN; i++) emit(`  var acc${i} = vec4<f32>(0.0);`);
  for (let l = 0; l < loadsA; l++) emit(`  var ga${l} = vec4<f32>(0.0);`);
  for (let l = 0; l < loadsB; l++) emit(`  var gb${l} = vec4<f32>(0.0);`);

  // Global loads of the tile at depth k0 into registers: rows past m, columns past n and depths past k
  // read an in-bounds address and are zeroed, so no branch and no out-of-bounds access.
  const loadGlobal = (indent: string): void => {
    if (shape.exact === true) {
      for (let l = 0; l < loadsA; l++) emit(`${indent}ga${l} = a[abase${l} + k04 + aq${l}];`);
      for (let l = 0; l < loadsB; l++) emit(`${indent}gb${l} = b[(k0 + bkk${l}) * n4 + bcol${l}];`);
      return;
    }
    for (let l = 0; l < loadsA; l++) {
      emit(`${indent}let aq${l}k = k04 + aq${l};`);
      emit(
        `${indent}ga${l} = select(vec4<f32>(0.0), a[abase${l} + min(aq${l}k, k4 - 1u)], aok${l} && aq${l}k < k4);`,
      );
    }
    for (let l = 0; l < loadsB; l++) {
      emit(`${indent}let bk${l}k = k0 + bkk${l};`);
      emit(
        `${indent}gb${l} = select(vec4<f32>(0.0), b[min(bk${l}k, params.k - 1u) * n4 + bcol${l}], bok${l} && bk${l}k < params.k);`,
      );
    }
  };
  // Registers to workgroup memory (at stage offsets sa, sb): A transposed (component j of a row's vec4
  // is depth 4q + j).
  const storeShared = (indent: string, sa: string, sb: string): void => {
    for (let l = 0; l < loadsA; l++) {
      for (let j = 0; j < 4; j++) {
        emit(
          `${indent}tileA[${sa}(aq${l} * 4u + ${j}u) * ${bm4}u + ar${l} / 4u][ar${l} % 4u] = ga${l}[${j}];`,
        );
      }
    }
    for (let l = 0; l < loadsB; l++) emit(`${indent}tileB[${sb}bkk${l} * ${bn4}u + bc${l}] = gb${l};`);
  };
  // One K step: tm/4 + tn/4 vec4 reads of workgroup memory and tm*tn fused multiply-adds per depth.
  const computeStep = (sa: string, sb: string): void => {
    for (let kk = 0; kk < bk; kk++) {
      for (let g = 0; g < groupsM; g++) {
        emit(`    let a${kk}_${g} = tileA[${sa}${kk * bm4 + g * wy}u + ty];`);
      }
      for (let h = 0; h < groupsN; h++) {
        emit(`    let b${kk}_${h} = tileB[${sb}${kk * bn4 + h * wx}u + tx];`);
      }
      for (let g = 0; g < groupsM; g++) {
        for (let i = 0; i < 4; i++) {
          for (let h = 0; h < groupsN; h++) {
            const acc = (g * 4 + i) * groupsN + h;
            emit(`    acc${acc} = fma(vec4<f32>(a${kk}_${g}[${i}]), b${kk}_${h}, acc${acc});`);
          }
        }
      }
    }
  };

  emit('  var k0 = 0u;');
  emit('  var k04 = 0u;');
  loadGlobal('  ');
  storeShared('  ', '', '');
  emit('  workgroupBarrier();');
  if (stages === 1 && shape.peel === true) {
    // Every step but the last has a next tile to fetch; the last one only computes.
    emit(`  for (k0 = 0u; k0 + ${bk}u < params.k; k0 += ${bk}u) {`);
    emit(`    k04 = (k0 + ${bk}u) / 4u;`);
    emit('    {');
    emit(`      let k0 = k0 + ${bk}u;`);
    loadGlobal('      ');
    emit('    }');
    computeStep('', '');
    emit('    workgroupBarrier();');
    storeShared('    ', '', '');
    emit('    workgroupBarrier();');
    emit('  }');
    emit('  {');
    computeStep('', '');
    emit('  }');
  } else if (stages === 1) {
    emit(`  for (k0 = 0u; k0 < params.k; k0 += ${bk}u) {`);
    emit(`    k04 = (k0 + ${bk}u) / 4u;`);
    emit(`    let more = k0 + ${bk}u < params.k;`);
    emit('    if (more) {');
    emit(`      let k0 = k0 + ${bk}u;`);
    loadGlobal('      ');
    emit('    }');
    computeStep('', '');
    emit('    workgroupBarrier();');
    emit('    if (more) {');
    storeShared('      ', '', '');
    emit('    }');
    emit('    workgroupBarrier();');
    emit('  }');
  } else {
    // Two K steps per turn, so each reads one buffer and fills the other at offsets fixed in the text
    // (no stage variable to index with): one barrier per step publishes the filled buffer and retires
    // the one just read.
    const otherA = `${bk * bm4}u + `;
    const otherB = `${bk * bn4}u + `;
    emit(`  for (k0 = 0u; k0 < params.k; k0 += ${2 * bk}u) {`);
    for (const [step, readA, readB, writeA, writeB] of [
      [1, '', '', otherA, otherB],
      [2, otherA, otherB, '', ''],
    ] as const) {
      emit(`    k04 = (k0 + ${step * bk}u) / 4u;`);
      emit(`    let more${step} = k0 + ${step * bk}u < params.k;`);
      emit(`    if (more${step}) {`);
      emit(`      let k0 = k0 + ${step * bk}u;`);
      loadGlobal('      ');
      emit('    }');
      emit('    {');
      computeStep(readA, readB);
      emit('    }');
      emit(`    if (more${step}) {`);
      storeShared('      ', writeA, writeB);
      emit('    }');
      emit('    workgroupBarrier();');
      if (step === 1) emit('    if (!more1) { break; }');
    }
    emit('  }');
  }
  for (let g = 0; g < groupsM; g++) {
    for (let i = 0; i < 4; i++) {
      emit(`  let row${g}_${i} = row0 + ${g * wy * 4}u + ty * 4u + ${i}u;`);
      if (shape.exact === true) {
        for (let h = 0; h < groupsN; h++) {
          const acc = (g * 4 + i) * groupsN + h;
          emit(`  c[row${g}_${i} * n4 + col40 + ${h * wx}u + tx] = acc${acc};`);
        }
        continue;
      }
      emit(`  if (row${g}_${i} < params.m) {`);
      for (let h = 0; h < groupsN; h++) {
        const acc = (g * 4 + i) * groupsN + h;
        emit(`    let col${acc} = col40 + ${h * wx}u + tx;`);
        emit(`    if (col${acc} < n4) { c[row${g}_${i} * n4 + col${acc}] = acc${acc}; }`);
      }
      emit('  }');
    }
  }
  emit('}');
  return lines.join('\n');
}
