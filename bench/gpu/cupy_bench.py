# CuPy (cuBLAS on an NVIDIA GPU through CUDA): the vendor library's f32 matmul, as a reference beside
# skein/gpu on the same card. One case per run, one JSON line out, the same inputs and checksums as
# bench/gpu/run-variant.ts. TF32 stays off (CuPy's default), so this is true f32 arithmetic.
#   python3 bench/gpu/cupy_bench.py <case>      cases: matmul-<n>
import json
import sys

import cupy as cp
import numpy as np
from bench_common import checksum, inputs, timed


def main():
    case = sys.argv[1]
    if not case.startswith('matmul-'):
        raise SystemExit(f'cupy-cublas has no case {case}')
    n = int(case.split('-')[1])
    a = inputs(n * n, 7).reshape(n, n)
    b = inputs(n * n, 5).reshape(n, n)
    ga, gb = cp.asarray(a), cp.asarray(b)
    gc = cp.empty((n, n), dtype=cp.float32)

    def compute():
        cp.matmul(ga, gb, out=gc)
        cp.cuda.Device().synchronize()

    result = {}

    def end_to_end():
        ea, eb = cp.asarray(a), cp.asarray(b)
        result['c'] = cp.asnumpy(cp.matmul(ea, eb))

    compute_ms = timed(compute)
    e2e_ms = timed(end_to_end)
    gflop = 2 * n**3 / 1e9
    print(json.dumps({
        'computeGflops': gflop / (compute_ms / 1000),
        'endToEndGflops': gflop / (e2e_ms / 1000),
        'checksum': checksum(result['c']),
    }))


main()
