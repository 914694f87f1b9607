# PyOpenCL on pocl (the CPU OpenCL driver): the book's own API as a peer of skein/gpu. One case per run,
# one JSON line out, the same inputs and checksums as bench/gpu/run-variant.ts.
#   /usr/bin/python3 bench/gpu/pyopencl_bench.py <case>
import json
import sys

import numpy as np
from bench_common import checksum, inputs, timed
import pyopencl as cl
import pyopencl.array as cla
from pyopencl.elementwise import ElementwiseKernel
from pyopencl.reduction import ReductionKernel

N16M = 16 * 1024 * 1024

MATMUL = """
#define TS 16
__kernel void matmul(const int n, __global const float* a, __global const float* b, __global float* c) {
  const int row = get_local_id(1), col = get_local_id(0);
  const int grow = TS * get_group_id(1) + row, gcol = TS * get_group_id(0) + col;
  __local float ta[TS][TS];
  __local float tb[TS][TS];
  float acc = 0.0f;
  for (int t = 0; t < n / TS; t++) {
    ta[row][col] = a[grow * n + t * TS + col];
    tb[row][col] = b[(t * TS + row) * n + gcol];
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int k = 0; k < TS; k++) acc += ta[row][k] * tb[k][col];
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  c[grow * n + gcol] = acc;
}
"""


def main(case):
    ctx = cl.create_some_context(interactive=False)
    queue = cl.CommandQueue(ctx)
    result = {"variant": "pyopencl-pocl", "case": case, "device": ctx.devices[0].name}
    if case.startswith("matmul"):
        n = int(case.split("-")[1])
        program = cl.Program(ctx, MATMUL).build()
        kernel = program.matmul
        a, b = inputs(n * n, 7), inputs(n * n, 5)
        ga, gb = cla.to_device(queue, a), cla.to_device(queue, b)
        gc = cla.empty(queue, (n * n,), np.float32)

        def compute():
            kernel(queue, (n, n), (16, 16), np.int32(n), ga.data, gb.data, gc.data)
            queue.finish()

        out = {}

        def end_to_end():
            ea, eb = cla.to_device(queue, a), cla.to_device(queue, b)
            ec = cla.empty(queue, (n * n,), np.float32)
            kernel(queue, (n, n), (16, 16), np.int32(n), ea.data, eb.data, ec.data)
            out["c"] = ec.get()

        gflop = 2 * n**3 / 1e9
        result["computeGflops"] = gflop / (timed(compute) / 1000)
        result["endToEndGflops"] = gflop / (timed(end_to_end) / 1000)
        result["checksum"] = checksum(out["c"])
    elif case == "sum-16m":
        x = cla.to_device(queue, inputs(N16M, 3))
        total = ReductionKernel(ctx, np.float32, neutral="0", reduce_expr="a+b", map_expr="x[i]", arguments="__global const float *x")
        out = {}

        def run():
            out["v"] = float(total(x).get())

        result["ms"] = timed(run)
        result["checksum"] = round(out["v"])
    elif case == "saxpy-16m":
        x = cla.to_device(queue, inputs(N16M, 3))
        y = cla.to_device(queue, inputs(N16M, 5))
        saxpy = ElementwiseKernel(ctx, "float a, __global const float *x, __global float *y", "y[i] = a * x[i] + y[i]", "saxpy")

        def run():
            saxpy(np.float32(2), x, y)
            queue.finish()

        result["ms"] = timed(run)
        # The timed runs accumulated into y as many times as the clock allowed: check one run on fresh inputs.
        once = cla.to_device(queue, inputs(N16M, 5))
        saxpy(np.float32(2), x, once)
        result["checksum"] = checksum(once.get()[:65536])
    else:
        raise SystemExit(f"pyopencl_bench.py has no case {case}")
    print(json.dumps(result))


main(sys.argv[1])
