// Turns the raw rounds of the pool benchmark into summaries and Markdown tables: median, min–max, the
// raw rounds, Skein ÷ each row and Skein against the best peer. Pure functions of the recorded results.

import { LIBRARY_LABELS, type Metric, sizeOf, type Workload } from './workloads.ts';

/** One variant's output in one round, as printed by run-variant.ts (plus the round). */
export interface VariantResult {
  readonly round: number;
  readonly workload: string;
  readonly library: string;
  readonly size: number;
  readonly ok: boolean;
  readonly metrics?: Readonly<Record<string, number>>;
  readonly checksum?: { readonly expected: number; readonly actual: number };
  readonly error?: string;
}

export interface Summary {
  readonly workload: string;
  readonly metric: string;
  readonly library: string;
  readonly size: number;
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly rounds: readonly number[];
  readonly failures: number;
  /** Skein's median ÷ this row's median (undefined when either is missing). */
  readonly skeinRatio: number | undefined;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  if (sorted.length === 0) return Number.NaN;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function summarize(workload: Workload, results: readonly VariantResult[]): Summary[] {
  const skein = workload.libraries[0]!;
  const out: Summary[] = [];
  for (const metric of [...workload.metrics, ...(workload.columns ?? [])]) {
    const rows = workload.libraries.map((library) => {
      const mine = results.filter((r) => r.workload === workload.id && r.library === library);
      const rounds = mine.filter((r) => r.ok).map((r) => r.metrics?.[metric.key] ?? Number.NaN);
      return { library, rounds, failures: mine.length - rounds.length };
    });
    const skeinMedian = median(rows.find((row) => row.library === skein)?.rounds ?? []);
    for (const row of rows) {
      const m = median(row.rounds);
      const ratio =
        Number.isFinite(skeinMedian) && Number.isFinite(m) && m !== 0 ? skeinMedian / m : undefined;
      out.push({
        workload: workload.id,
        metric: metric.key,
        library: row.library,
        size: sizeOf(workload, row.library),
        median: m,
        min: Math.min(...row.rounds),
        max: Math.max(...row.rounds),
        rounds: row.rounds,
        failures: row.failures,
        skeinRatio: ratio,
      });
    }
  }
  return out;
}

function format(value: number, digits: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function formatRatio(ratio: number | undefined): string {
  return ratio === undefined ? 'n/a' : `${ratio.toFixed(2)}×`;
}

/** The Markdown block for one workload: a table per metric and the Skein-vs-best-peer line. */
export function renderWorkload(workload: Workload, summaries: readonly Summary[]): string {
  const skein = workload.libraries[0]!;
  const lines: string[] = [`### ${workload.title}`, ''];
  const sizes = [...new Set(workload.libraries.map((library) => sizeOf(workload, library)))];
  const sizeText =
    sizes.length === 1
      ? `${format(sizes[0]!, 0)} ${workload.unit} per run`
      : workload.libraries
          .map((l) => `${LIBRARY_LABELS[l] ?? l} ${format(sizeOf(workload, l), 0)}`)
          .join(', ');
  lines.push(`${workload.description} Size: ${sizeText}.`, '');
  workload.metrics.forEach((metric, i) => {
    const columns = i === 0 ? (workload.columns ?? []) : [];
    lines.push(...renderMetric(workload, metric, columns, summaries, skein), '');
  });
  return lines.join('\n');
}

function renderMetric(
  workload: Workload,
  metric: Metric,
  columns: readonly Metric[],
  summaries: readonly Summary[],
  skein: string,
): string[] {
  const find = (key: string, library: string) =>
    summaries.find((s) => s.workload === workload.id && s.metric === key && s.library === library);
  const rows = summaries.filter((s) => s.workload === workload.id && s.metric === metric.key);
  const direction = metric.higherIsBetter ? 'higher is better' : 'lower is better';
  const extraHead = columns.map((c) => ` median ${c.label} |`).join('');
  const extraRule = columns.map(() => '---:|').join('');
  const lines = [
    `${metric.label} (${direction}; Skein ÷ row: ${metric.higherIsBetter ? '>1' : '<1'} favours Skein)`,
    '',
    `| library | median ${metric.label} | min–max | rounds | Skein ÷ row |${extraHead}`,
    `|---|---:|---:|---|---:|${extraRule}`,
  ];
  for (const row of rows) {
    const label = LIBRARY_LABELS[row.library] ?? row.library;
    const failed = row.failures > 0 ? ` (${row.failures} failed)` : '';
    const rounds = row.rounds.map((v) => format(v, metric.digits)).join(' ');
    const range =
      row.rounds.length > 0 ? `${format(row.min, metric.digits)}–${format(row.max, metric.digits)}` : 'n/a';
    const ratio = row.library === skein ? '1.00×' : formatRatio(row.skeinRatio);
    const extra = columns
      .map((c) => ` ${format(find(c.key, row.library)?.median ?? Number.NaN, c.digits)} |`)
      .join('');
    lines.push(
      `| ${label}${failed} | ${format(row.median, metric.digits)} | ${range} | ${rounds} | ${ratio} |${extra}`,
    );
  }
  const peers = rows.filter(
    (r) => r.library !== skein && !workload.baselines.includes(r.library) && Number.isFinite(r.median),
  );
  const best = peers.sort((a, b) => (metric.higherIsBetter ? b.median - a.median : a.median - b.median))[0];
  if (best !== undefined) {
    lines.push(
      '',
      `Skein vs best peer (${LIBRARY_LABELS[best.library] ?? best.library}): ${formatRatio(best.skeinRatio)}`,
    );
  }
  return lines;
}
