# What the Python peers of bench/gpu.ts share with each other and with bench/gpu/run-variant.ts: the same
# deterministic inputs, the same sampled checksum, and the same timing (one warm-up, median of three).
import statistics
import time

import numpy as np

INNER_REPS = 3


def inputs(n, seed):
    i = np.arange(n, dtype=np.int64)
    return (((i * seed) % 17) / 17 - 0.5).astype(np.float32)


def checksum(values):
    values = values.ravel()
    step = max(1, len(values) // 4096)
    return round(float(np.sum(values[::step].astype(np.float64))) * 1000) / 1000


def timed(run):
    run()
    times = []
    for _ in range(INNER_REPS):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)
