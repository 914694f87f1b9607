// The SQL of the broker: one statement per file under sql/, read from disk once per process and
// prepared once per connection. Invariant: every name below has its file, and every file its name, so
// a statement is never built from strings at run time.

import { readFileSync } from 'node:fs';
import type { DatabaseSync, StatementSync } from 'node:sqlite';

const NAMES = [
  'cancel_job_as_holder',
  'cancel_waiting_job',
  'complete_job',
  'count_join',
  'count_jobs_by_state',
  'count_rate_events',
  'count_running_jobs',
  'delete_expired_jobs',
  'delete_expired_joins',
  'delete_join',
  'delete_old_events',
  'delete_old_rate_events',
  'delete_old_ticks',
  'delete_rate_events',
  'extend_leases',
  'finish_expired_job',
  'finish_failed_job',
  'insert_event',
  'insert_events',
  'insert_job',
  'insert_rate_event',
  'insert_tick',
  'list_jobs',
  'quarantine_job',
  'queue_due_jobs',
  'release_job',
  'request_cancel',
  'requeue_job',
  'retry_failed_attempt',
  'retry_job',
  'select_children',
  'select_claim_candidates',
  'select_events_after',
  'select_expired_leases',
  'select_finish_latencies',
  'select_held_status',
  'select_job',
  'select_job_by_seq',
  'select_job_for_cancel',
  'select_job_id_by_key',
  'select_last_event_id',
  'select_news_after',
  'start_jobs',
  'update_progress',
  'upsert_worker',
] as const;

export type StatementName = (typeof NAMES)[number];
export type Statements = Readonly<Record<StatementName, StatementSync>>;

let texts: ReadonlyMap<StatementName, string> | undefined;

/** The text of every statement, read from sql/ on first use. */
export function statementTexts(): ReadonlyMap<StatementName, string> {
  texts ??= new Map(
    NAMES.map((name) => [name, readFileSync(new URL(`./sql/${name}.sql`, import.meta.url), 'utf8')]),
  );
  return texts;
}

/** Prepares every statement on one connection. */
export function prepareStatements(db: DatabaseSync): Statements {
  const prepared = {} as Record<StatementName, StatementSync>;
  for (const [name, text] of statementTexts()) prepared[name] = db.prepare(text);
  return Object.freeze(prepared);
}

/** The names of every statement (for the test that checks sql/ holds exactly these files). */
export const STATEMENT_NAMES: readonly StatementName[] = NAMES;
