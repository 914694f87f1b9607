# The mpi4py side of bench/mpi.ts: the same measurements as osu-rank.ts, on Open MPI, 2 ranks.
# Prints one JSON object from rank 0: microseconds (latency, collectives), MB/s (bandwidth).
import json
import os
import time
from mpi4py import MPI

comm = MPI.COMM_WORLD
rank = comm.Get_rank()
other = 1 - rank
LATENCY_SIZES = [8, 1024, 65536, 1048576]
# bench/mpi.ts --only: metric prefixes to measure.
ONLY = os.environ.get('SKEIN_BENCH_MPI_ONLY')
ONLY = None if ONLY is None else [p.strip() for p in ONLY.split(',')]


def wanted(metric):
    return ONLY is None or any(metric.startswith(p) for p in ONLY)


def iterations_for(n):
    # OSU's default loop counts (osu_latency): 10,000 round trips up to 8 KiB, 1,000 beyond.
    return 10000 if n <= 8192 else 1000


# The warm-up of bench/mpi/osu-rank.ts (long there for V8's JIT), the same here so both sides match.
SMALL_WARM_UP = 30000


def warm_up_for(n):
    return SMALL_WARM_UP if n <= 8192 else iterations_for(n) // 10


def timed(iterations, body, warm_up=None):
    for _ in range(max(5, iterations // 10) if warm_up is None else warm_up):
        body()
    comm.Barrier()
    start = time.perf_counter()
    for _ in range(iterations):
        body()
    return (time.perf_counter() - start) * 1e6 / iterations


out = {}
for n in LATENCY_SIZES:
    value = {'bytes': bytearray(b'\x01' * n)}

    def pingpong_value():
        if rank == 0:
            comm.send(value, other, 1)
            comm.recv(source=other, tag=1)
        else:
            comm.send(comm.recv(source=other, tag=1), other, 1)

    if wanted('latency value %d' % n):
        out['latency value %d' % n] = timed(iterations_for(n), pingpong_value, warm_up_for(n)) / 2
    buf = bytearray(b'\x02' * n)

    def pingpong_buffer():
        if rank == 0:
            comm.Send(buf, other, 2)
            comm.Recv(buf, other, 2)
        else:
            comm.Recv(buf, other, 2)
            comm.Send(buf, other, 2)

    if wanted('latency buffer %d' % n):
        out['latency buffer %d' % n] = timed(iterations_for(n), pingpong_buffer, warm_up_for(n)) / 2

for n in [1048576, 16777216]:
    if not wanted('bandwidth buffer %d' % n):
        continue
    buf = bytearray(b'\x03' * n)
    window = 4 if n > 1048576 else 16

    def bw():
        if rank == 0:
            MPI.Request.Waitall([comm.Isend(buf, other, 3) for _ in range(window)])
            comm.recv(source=other, tag=4)
        else:
            for _ in range(window):
                comm.Recv(buf, other, 3)
            comm.send(0, other, 4)

    out['bandwidth buffer %d' % n] = n * window / timed(3 if n > 1048576 else 6, bw)

import array
small = array.array('d', [0.0])
small_out = array.array('d', [0.0])
if wanted('allreduce 8'):
    out['allreduce 8'] = timed(2000, lambda: comm.Allreduce(small, small_out, op=MPI.SUM), SMALL_WARM_UP)
big = array.array('d', bytes(1048576))
big_out = array.array('d', bytes(1048576))
if wanted('allreduce 1048576'):
    out['allreduce 1048576'] = timed(40, lambda: comm.Allreduce(big, big_out, op=MPI.SUM))
bbuf = bytearray(1048576)
if wanted('bcast 1048576'):
    out['bcast 1048576'] = timed(60, lambda: comm.Bcast(bbuf, root=0))
if wanted('barrier'):
    out['barrier'] = timed(2000, comm.Barrier, SMALL_WARM_UP)
if rank == 0:
    print(json.dumps(out))
