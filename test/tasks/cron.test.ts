// Cron parsing and next-fire times in UTC: ranges, steps, lists, names, macros, the day-of-month /
// day-of-week OR rule, month and year rollover, leap days, and clear errors for bad expressions.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nextCronTime, parseCron } from '../../src/tasks/index.ts';
import { codeOf } from '../conformance/helpers.ts';

const utc = (y: number, mo: number, d: number, h = 0, mi = 0) => Date.UTC(y, mo - 1, d, h, mi);
const next = (expr: string, after: number) => new Date(nextCronTime(parseCron(expr), after)).toISOString();

describe('cron', () => {
  it('fires every minute for * * * * *, strictly after the given instant', () => {
    assert.equal(next('* * * * *', utc(2026, 1, 1, 10, 0)), '2026-01-01T10:01:00.000Z');
    assert.equal(next('* * * * *', utc(2026, 1, 1, 10, 0) + 30_000), '2026-01-01T10:01:00.000Z');
  });

  it('reads steps, ranges with steps and lists', () => {
    assert.equal(next('*/15 * * * *', utc(2026, 1, 1, 10, 14)), '2026-01-01T10:15:00.000Z');
    assert.equal(next('*/15 * * * *', utc(2026, 1, 1, 10, 45)), '2026-01-01T11:00:00.000Z');
    assert.equal(next('10-20/5 * * * *', utc(2026, 1, 1, 10, 16)), '2026-01-01T10:20:00.000Z');
    assert.equal(next('10-20/5 * * * *', utc(2026, 1, 1, 10, 20)), '2026-01-01T11:10:00.000Z');
    assert.equal(next('5,35 8,20 * * *', utc(2026, 1, 1, 8, 35)), '2026-01-01T20:05:00.000Z');
    assert.equal(next('30/10 * * * *', utc(2026, 1, 1, 10, 55)), '2026-01-01T11:30:00.000Z');
  });

  it('reads month and weekday names in any case, and 7 as Sunday', () => {
    // 2026-01-01 is a Thursday.
    assert.equal(next('0 9 * * MON-FRI', utc(2026, 1, 2, 9)), '2026-01-05T09:00:00.000Z');
    assert.equal(next('0 0 * * sun', utc(2026, 1, 1)), '2026-01-04T00:00:00.000Z');
    assert.equal(next('0 0 * * 7', utc(2026, 1, 1)), '2026-01-04T00:00:00.000Z');
    assert.equal(next('0 0 1 jun *', utc(2026, 1, 1)), '2026-06-01T00:00:00.000Z');
  });

  it('matches either day field when both are restricted, and both when one is *', () => {
    // The 13th, or any Friday: 2026-01-02 is a Friday.
    assert.equal(next('0 0 13 * FRI', utc(2026, 1, 1)), '2026-01-02T00:00:00.000Z');
    assert.equal(next('0 0 13 * FRI', utc(2026, 1, 10)), '2026-01-13T00:00:00.000Z');
    assert.equal(next('0 0 * * FRI', utc(2026, 1, 10)), '2026-01-16T00:00:00.000Z');
  });

  it('rolls over months and years and finds leap days', () => {
    assert.equal(next('0 0 31 * *', utc(2026, 4, 1)), '2026-05-31T00:00:00.000Z');
    assert.equal(next('59 23 31 12 *', utc(2026, 12, 31, 23, 59)), '2027-12-31T23:59:00.000Z');
    assert.equal(next('0 12 29 2 *', utc(2026, 3, 1)), '2028-02-29T12:00:00.000Z');
  });

  it('expands the @hourly, @daily, @weekly, @monthly and @yearly macros', () => {
    assert.equal(next('@hourly', utc(2026, 1, 1, 10, 5)), '2026-01-01T11:00:00.000Z');
    assert.equal(next('@daily', utc(2026, 1, 1, 10)), '2026-01-02T00:00:00.000Z');
    assert.equal(next('@weekly', utc(2026, 1, 1)), '2026-01-04T00:00:00.000Z');
    assert.equal(next('@monthly', utc(2026, 1, 15)), '2026-02-01T00:00:00.000Z');
    assert.equal(next('@yearly', utc(2026, 1, 15)), '2027-01-01T00:00:00.000Z');
  });

  it('refuses bad expressions with SKEIN_TASKS_INVALID_CRON naming the field', () => {
    const cases: [string, RegExp][] = [
      ['* * * *', /has 4 fields/],
      ['', /has 0 fields/],
      ['60 * * * *', /minute "60" is not a number in 0-59/],
      ['* 24 * * *', /hour "24"/],
      ['* * 0 * *', /day of month "0"/],
      ['* * * 13 *', /month "13"/],
      ['* * * FOO *', /month "FOO" is not a number or name/],
      ['*/0 * * * *', /minute step "0"/],
      ['5-1 * * * *', /runs backwards/],
      ['1,,2 * * * *', /malformed/],
      ['0 0 30 2 *', /never fires/],
    ];
    for (const [expr, message] of cases) {
      assert.throws(
        () => parseCron(expr),
        (error: unknown) =>
          codeOf(error) === 'SKEIN_TASKS_INVALID_CRON' && message.test((error as Error).message),
        expr,
      );
    }
  });
});
