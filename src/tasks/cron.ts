// Five-field cron expressions (minute hour day-of-month month day-of-week) and the next firing time
// after an instant, in UTC. Pure: parsing checks every field and refuses an expression that can never
// fire, so nextCronTime always finds a time within the search bound.

import { InvalidArgumentError } from '../errors.ts';

/** A parsed expression: the allowed values of each field. */
export interface CronExpression {
  readonly source: string;
  readonly minutes: ReadonlySet<number>;
  readonly hours: ReadonlySet<number>;
  readonly daysOfMonth: ReadonlySet<number>;
  readonly months: ReadonlySet<number>;
  /** 0 = Sunday … 6 = Saturday (7 is read as Sunday). */
  readonly daysOfWeek: ReadonlySet<number>;
  /** Day-of-month and day-of-week were both restricted: a day matches if either matches (Vixie cron). */
  readonly eitherDay: boolean;
  readonly anyDayOfMonth: boolean;
  readonly anyDayOfWeek: boolean;
}

interface FieldSpec {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  readonly names?: readonly string[];
}

const FIELDS: readonly FieldSpec[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  {
    name: 'month',
    min: 1,
    max: 12,
    names: ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'],
  },
  { name: 'day of week', min: 0, max: 7, names: ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] },
];

const MACROS: Readonly<Record<string, string>> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

const MINUTE_MS = 60_000;
// Feb 29 on a Monday, say, recurs within 28 years; a longer search means the expression never fires.
const SEARCH_YEARS = 30;

function cronError(source: string, detail: string): InvalidArgumentError {
  return new InvalidArgumentError(
    'SKEIN_TASKS_INVALID_CRON',
    `cron expression ${JSON.stringify(source)}: ${detail}; write five fields: minute hour day-of-month month day-of-week (e.g. "*/15 9-17 * * MON-FRI")`,
  );
}

function parseValue(source: string, spec: FieldSpec, text: string): number {
  const upper = text.toUpperCase();
  const named = spec.names?.indexOf(upper) ?? -1;
  const value =
    named >= 0 ? named + (spec.name === 'month' ? 1 : 0) : /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isInteger(value) || value < spec.min || value > spec.max) {
    throw cronError(
      source,
      `${spec.name} ${JSON.stringify(text)} is not ${spec.names ? 'a number or name' : 'a number'} in ${spec.min}-${spec.max}`,
    );
  }
  return value;
}

function parseField(source: string, spec: FieldSpec, text: string): { values: Set<number>; any: boolean } {
  const values = new Set<number>();
  let any = false;
  for (const part of text.split(',')) {
    const [range, stepText, extra] = part.split('/');
    if (range === undefined || range === '' || extra !== undefined) {
      throw cronError(source, `${spec.name} part ${JSON.stringify(part)} is malformed`);
    }
    let step = 1;
    if (stepText !== undefined) {
      if (!/^\d+$/.test(stepText) || Number(stepText) < 1 || Number(stepText) > spec.max) {
        throw cronError(
          source,
          `${spec.name} step ${JSON.stringify(stepText)} must be a number in 1-${spec.max}`,
        );
      }
      step = Number(stepText);
    }
    let low: number;
    let high: number;
    if (range === '*') {
      low = spec.min;
      high = spec.name === 'day of week' ? 6 : spec.max;
      if (stepText === undefined) any = true;
    } else {
      const bounds = range.split('-');
      if (bounds.length > 2)
        throw cronError(source, `${spec.name} range ${JSON.stringify(range)} is malformed`);
      low = parseValue(source, spec, bounds[0]!);
      high =
        bounds.length === 2 ? parseValue(source, spec, bounds[1]!) : stepText === undefined ? low : spec.max;
      if (high < low) {
        throw cronError(source, `${spec.name} range ${JSON.stringify(range)} runs backwards`);
      }
    }
    for (let value = low; value <= high; value += step) {
      values.add(spec.name === 'day of week' && value === 7 ? 0 : value);
    }
  }
  return { values, any };
}

/**
 * Parses a five-field cron expression (or a macro: @hourly, @daily, @midnight, @weekly, @monthly,
 * @yearly, @annually). Fields take `*`, numbers, names (JAN-DEC, SUN-SAT), ranges `a-b`, steps `*\/n`
 * and `a-b/n`, and lists `a,b`. When both day fields are restricted a day matches either, as in cron.
 * @example
 * nextCronTime(parseCron('*\/15 9-17 * * MON-FRI'), Date.now());
 * @throws SKEIN_TASKS_INVALID_CRON naming the bad field, or when the expression can never fire.
 */
export function parseCron(expression: string): CronExpression {
  if (typeof expression !== 'string') {
    throw new InvalidArgumentError(
      'SKEIN_TASKS_INVALID_CRON',
      `a cron expression must be a string (got ${typeof expression})`,
    );
  }
  const source = expression.trim();
  const expanded = MACROS[source.toLowerCase()] ?? source;
  const parts = expanded.split(/\s+/);
  if (parts.length !== 5 || parts[0] === '') {
    throw cronError(expression, `has ${parts[0] === '' ? 0 : parts.length} fields`);
  }
  const [minutes, hours, daysOfMonth, months, daysOfWeek] = parts.map((part, index) =>
    parseField(expression, FIELDS[index]!, part),
  ) as [
    ReturnType<typeof parseField>,
    ReturnType<typeof parseField>,
    ReturnType<typeof parseField>,
    ReturnType<typeof parseField>,
    ReturnType<typeof parseField>,
  ];
  const cron: CronExpression = Object.freeze({
    source: expression,
    minutes: minutes.values,
    hours: hours.values,
    daysOfMonth: daysOfMonth.values,
    months: months.values,
    daysOfWeek: daysOfWeek.values,
    eitherDay: !daysOfMonth.any && !daysOfWeek.any,
    anyDayOfMonth: daysOfMonth.any,
    anyDayOfWeek: daysOfWeek.any,
  });
  if (searchNext(cron, Date.UTC(2000, 0, 1)) === undefined) {
    throw cronError(expression, 'never fires (no such day in any month)');
  }
  return cron;
}

function dayMatches(cron: CronExpression, date: Date): boolean {
  const byMonthDay = cron.daysOfMonth.has(date.getUTCDate());
  const byWeekDay = cron.daysOfWeek.has(date.getUTCDay());
  if (cron.eitherDay) return byMonthDay || byWeekDay;
  return byMonthDay && byWeekDay;
}

function searchNext(cron: CronExpression, after: number): number | undefined {
  let t = Math.floor(after / MINUTE_MS) * MINUTE_MS + MINUTE_MS;
  const lastYear = new Date(t).getUTCFullYear() + SEARCH_YEARS;
  for (;;) {
    const date = new Date(t);
    const year = date.getUTCFullYear();
    if (year > lastYear) return undefined;
    const month = date.getUTCMonth();
    if (!cron.months.has(month + 1)) {
      t = Date.UTC(year, month + 1, 1);
    } else if (!dayMatches(cron, date)) {
      t = Date.UTC(year, month, date.getUTCDate() + 1);
    } else if (!cron.hours.has(date.getUTCHours())) {
      t = Date.UTC(year, month, date.getUTCDate(), date.getUTCHours() + 1);
    } else if (!cron.minutes.has(date.getUTCMinutes())) {
      t += MINUTE_MS;
    } else {
      return t;
    }
  }
}

/**
 * The first firing time strictly after `after` (epoch ms), in UTC, on a whole minute.
 * @example
 * nextCronTime(parseCron('0 9 * * MON'), Date.UTC(2026, 0, 1)); // Date.UTC(2026, 0, 5, 9)
 */
export function nextCronTime(cron: CronExpression, after: number): number {
  const next = searchNext(cron, after);
  if (next === undefined) {
    throw cronError(
      cron.source,
      `does not fire within ${SEARCH_YEARS} years of ${new Date(after).toISOString()}`,
    );
  }
  return next;
}
