// The pool benchmark's workloads and who runs each: one table of plain data that the driver and the
// summary both read. Sizes are chosen so one variant takes about 0.5-3 s on a 2-core machine.

export interface Metric {
  readonly key: string;
  readonly label: string;
  readonly higherIsBetter: boolean;
  readonly digits: number;
}

export interface Workload {
  readonly id: string;
  readonly title: string;
  /** What the numbers mean and how they were obtained, one or two sentences. */
  readonly description: string;
  /** Libraries compared; the first is Skein's executor. */
  readonly libraries: readonly string[];
  /** Rows that are references (ideal, floor) rather than competitors. */
  readonly baselines: readonly string[];
  readonly size: number;
  /** What `size` counts: tasks, items, calls. */
  readonly unit: string;
  /** Per-library sizes where one differs (a library that would take minutes at full size). */
  readonly sizes?: Readonly<Record<string, number>>;
  /** Runs the variant's process under `taskset -c 0`: every thread of it on one CPU. */
  readonly pinned?: boolean;
  /** One table each, with medians, ranges, raw rounds and Skein ratios. */
  readonly metrics: readonly Metric[];
  /** Shown as extra median columns in the first table (derived or check values). */
  readonly columns?: readonly Metric[];
}

export const THREAD_PEERS = ['piscina', 'tinypool', 'workerpool', 'poolifier'] as const;

const TASKS_PER_SEC: Metric = { key: 'tasksPerSec', label: 'tasks/s', higherIsBetter: true, digits: 0 };
const UTILIZATION: Metric = { key: 'utilization', label: 'utilization', higherIsBetter: true, digits: 3 };
const WORK_RATE: Metric = { key: 'workRate', label: 'work rate', higherIsBetter: true, digits: 3 };
const P50: Metric = { key: 'p50Us', label: 'p50 µs', higherIsBetter: false, digits: 1 };
const P99: Metric = { key: 'p99Us', label: 'p99 µs', higherIsBetter: false, digits: 1 };
const MIB_PER_SEC: Metric = { key: 'mibPerSec', label: 'MiB/s', higherIsBetter: true, digits: 0 };

export const WORKLOADS: readonly Workload[] = [
  {
    id: 'trivial',
    title: '(a) trivial tasks submitted at once',
    description:
      'All calls issued in one go, then awaited together: the cost per task of submitting, dispatching and ' +
      'settling. 40,000 tasks, not the 100,000 of the issue, so the slowest peer stays near 3 s per run.',
    libraries: ['skein', ...THREAD_PEERS],
    baselines: [],
    size: 40_000,
    unit: 'tasks',
    metrics: [TASKS_PER_SEC],
  },
  {
    id: 'trivial-steady',
    title: '(a2) trivial tasks submitted at once, steady state',
    description:
      'The bursts of (a), in one process: after the same warm-up and 2 more full bursts, the median of 3 ' +
      'timed bursts. What a long-lived pool does once the engine has compiled its paths; (a) times the ' +
      'first full burst, which still pays for that compiling (on 2 cores it competes with the pool).',
    libraries: ['skein', ...THREAD_PEERS],
    baselines: [],
    size: 40_000,
    unit: 'tasks',
    metrics: [TASKS_PER_SEC],
  },
  {
    id: 'map',
    title: '(b) map over trivial items',
    description:
      'Skein: pool.map(task, items), which sends items in chunks. The peers have no chunked map, so each ' +
      'item is one task (poolifier: its own mapExecute, also one task per item); they run 10,000 items ' +
      'because 1,000,000 would take about a minute each. Items/s are comparable, the sizes are not equal.',
    libraries: ['skein', ...THREAD_PEERS],
    baselines: [],
    size: 10_000,
    unit: 'items',
    sizes: { skein: 1_000_000 },
    metrics: [{ key: 'itemsPerSec', label: 'items/s', higherIsBetter: true, digits: 0 }],
  },
  {
    id: 'spin',
    title: '(c) 1 ms CPU tasks submitted at once: worker utilization',
    description:
      'Each task busy-waits 1 ms of performance.now() and returns the time it spent. Utilization = Σ time ' +
      'inside task code / (2 workers × wall). A task preempted while it spins counts the preemption as ' +
      'time inside it (its clock runs on), so a pool whose own threads take CPU from its workers scores ' +
      'higher for it; work rate = tasks × 1 ms / (2 workers × wall) counts only the work delivered. ' +
      '"bare" is two plain worker_threads pulling task indices from a shared Atomics counter, no message ' +
      'per task: the ideal.',
    libraries: ['skein', ...THREAD_PEERS, 'bare'],
    baselines: ['bare'],
    size: 2_000,
    unit: 'tasks',
    metrics: [UTILIZATION, WORK_RATE],
    columns: [TASKS_PER_SEC],
  },
  {
    id: 'latency',
    title: '(d1) single-task round trip (sequential awaits of a trivial task)',
    description:
      'One call at a time after 30,000 warm-up calls, so the engine has compiled every library’s path ' +
      '(after 2,000, V8’s compiler threads still took more CPU per call than the pool, on the same cores); ' +
      'per-call times in µs. "atomics" is an Atomics.wait/notify ping-pong between the main thread and ' +
      'one worker, the floor.',
    libraries: ['skein', ...THREAD_PEERS, 'atomics'],
    baselines: ['atomics'],
    size: 10_000,
    unit: 'calls',
    metrics: [P50, P99],
  },
  {
    id: 'latency-pinned',
    title: '(d2) single-task round trip pinned to one CPU (taskset -c 0)',
    description:
      'As (d1), with the whole process (main thread and workers) on one CPU, so every round trip is two ' +
      'context switches and any spinning costs time: the library’s own cost per call.',
    libraries: ['skein', ...THREAD_PEERS, 'atomics'],
    baselines: ['atomics'],
    size: 10_000,
    unit: 'calls',
    pinned: true,
    metrics: [P50, P99],
  },
  {
    id: 'copy',
    title: '(e1) a fresh 1 MiB Float64Array per task, copied (structured clone)',
    description:
      'At most 8 tasks in flight; each task reads three elements and returns a checksum. The array is ' +
      'allocated in the timed loop, as in the transfer case. MiB/s = tasks/s × 1 MiB.',
    libraries: ['skein', ...THREAD_PEERS],
    baselines: [],
    size: 500,
    unit: 'tasks',
    metrics: [TASKS_PER_SEC],
    columns: [MIB_PER_SEC],
  },
  {
    id: 'transfer',
    title: '(e2) a fresh 1 MiB Float64Array per task, transferred (transfer list)',
    description:
      'As (e1) with each library’s transfer API (Skein submit(…, { transfer }), piscina Piscina.move, ' +
      'tinypool transferList, workerpool transfer, poolifier execute’s transferList). "moved" is the share ' +
      'of arrays found detached after the call: 1 means no copy was made.',
    libraries: ['skein', ...THREAD_PEERS],
    baselines: [],
    size: 500,
    unit: 'tasks',
    metrics: [TASKS_PER_SEC],
    columns: [MIB_PER_SEC, { key: 'movedShare', label: 'moved', higherIsBetter: true, digits: 2 }],
  },
  {
    id: 'process-trivial',
    title: '(f1) ProcessPool: trivial tasks submitted at once',
    description:
      'Skein ProcessPool (2 child processes) beside plain child_process IPC: 2 forked children, tasks ' +
      'dealt round-robin with process.send, answers matched by id.',
    libraries: ['skein-process', 'ipc'],
    baselines: [],
    size: 50_000,
    unit: 'tasks',
    metrics: [TASKS_PER_SEC],
  },
  {
    id: 'process-spin',
    title: '(f2) ProcessPool: 1 ms CPU tasks: worker utilization',
    description: 'As (c), on processes: Skein ProcessPool beside the plain IPC pair of (f1).',
    libraries: ['skein-process', 'ipc'],
    baselines: [],
    size: 2_000,
    unit: 'tasks',
    metrics: [UTILIZATION, WORK_RATE],
    columns: [TASKS_PER_SEC],
  },
];

export const LIBRARY_LABELS: Readonly<Record<string, string>> = {
  skein: 'Skein ThreadPool',
  'skein-process': 'Skein ProcessPool',
  piscina: 'piscina',
  tinypool: 'tinypool',
  workerpool: 'workerpool',
  poolifier: 'poolifier',
  bare: '2 bare threads (ideal)',
  atomics: 'Atomics ping-pong (floor)',
  ipc: 'child_process IPC',
};

export function sizeOf(workload: Workload, library: string): number {
  return workload.sizes?.[library] ?? workload.size;
}
