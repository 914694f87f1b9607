# What the Python peers of bench/gpu.ts share with each other and with bench/gpu/run-variant.ts: the same
# deterministic inputs, the same sampled checksum, and the same timing (a warm-up by time, then the median of 3 to 30 runs).
import statistics
import time

import numpy as np

INNER_REPS = 3
MAX_REPS = 30
WARM_UP_MS = 1000
MEASURE_MS = 500


def inputs(n, seed):
    i = np.arange(n, dtype=np.int64)
    return (((i * seed) % 17) / 17 - 0.5).astype(np.float32)


def checksum(values):
    values = values.ravel()
    step = max(1, len(values) // 4096)
    return round(float(np.sum(values[::step].astype(np.float64))) * 1000) / 1000


def timed(run):
    """Median ms of one run after a warm-up of at least one run and WARM_UP_MS, over at least INNER_REPS
    runs and up to MAX_REPS within MEASURE_MS: the same policy as bench/gpu/run-variant.ts."""
    warm_until = time.perf_counter() + WARM_UP_MS / 1000
    run()
    while time.perf_counter() < warm_until:
        run()
    times = []
    measure_until = time.perf_counter() + MEASURE_MS / 1000
    while len(times) < INNER_REPS or (len(times) < MAX_REPS and time.perf_counter() < measure_until):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)
