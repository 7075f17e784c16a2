import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { addDays, addMonthsOnDay, daysInMonth, dueDateAt, nextDueDate, type ScheduleRule } from './schedule-dates.ts';

const monthly = (dayOfMonth: number | null, delays = 0, intervalLength = 1): ScheduleRule => ({ intervalUnit: 'month', intervalLength, dayOfMonth, delays });
const daily = (intervalLength: number, delays = 0): ScheduleRule => ({ intervalUnit: 'day', intervalLength, dayOfMonth: null, delays });
const series = (rule: ScheduleRule, anchor: string, count: number) => Array.from({ length: count }, (_, index) => dueDateAt(rule, anchor, index + 1));

test('day_of_month 31 is clamped to each month\'s last day, leap February included, and never drifts', () => {
  assert.deepEqual(series(monthly(31, 2), '2027-11-20', 6), ['2028-02-29', '2028-03-31', '2028-04-30', '2028-05-31', '2028-06-30', '2028-07-31']);
  assert.deepEqual(series(monthly(31), '2026-12-05', 3), ['2027-01-31', '2027-02-28', '2027-03-31']);
  assert.deepEqual(series(monthly(30), '2099-12-01', 3), ['2100-01-30', '2100-02-28', '2100-03-30'], '2100 is not a leap year');
  assert.deepEqual(series(monthly(29), '1999-12-10', 3), ['2000-01-29', '2000-02-29', '2000-03-29'], '2000 is');
});

test('without day_of_month the initiating payment\'s day is used, clamped, from the anchor (31 Jan → 29 Feb → 31 Mar)', () => {
  assert.deepEqual(series(monthly(null), '2028-01-31', 4), ['2028-02-29', '2028-03-31', '2028-04-30', '2028-05-31']);
  assert.deepEqual(series(monthly(null, 0, 3), '2026-11-30', 3), ['2027-02-28', '2027-05-30', '2027-08-30'], 'quarterly');
  assert.deepEqual(series(monthly(15, 0, 12), '2026-12-31', 2), ['2027-12-15', '2028-12-15'], 'yearly, across the year end');
});

test('days: delays skip whole intervals; month and year ends and 29 Feb are ordinary days', () => {
  assert.deepEqual(series(daily(15), '2028-02-10', 3), ['2028-02-25', '2028-03-11', '2028-03-26']);
  assert.deepEqual(series(daily(1, 2), '2027-12-30', 3), ['2028-01-02', '2028-01-03', '2028-01-04']);
  assert.deepEqual(series(daily(7), '2028-02-22', 1), ['2028-02-29']);
});

test('a long pause: dates before the resume day are passed over, the cycle keeps its days', () => {
  const rule = monthly(31);
  // Paused after the 2nd payment, run again on 2029-06-10: next is 30 Jun 2029 (index 31).
  const next = nextDueDate(rule, '2027-01-05', 2, '2029-06-10');
  assert.deepEqual(next, { index: 29, dueOn: '2029-06-30' });
  assert.equal(dueDateAt(rule, '2027-01-05', 29), '2029-06-30');
  // Resumed on a due day itself: that day is charged.
  assert.deepEqual(nextDueDate(rule, '2027-01-05', 2, '2029-06-30'), { index: 29, dueOn: '2029-06-30' });
  // Ten years of daily dates skipped in one call.
  assert.deepEqual(nextDueDate(daily(1), '2026-01-01', 0, '2036-01-01'), { index: 3652, dueOn: '2036-01-01' });
  assert.deepEqual(nextDueDate(daily(1), '2026-01-01', 0, null), { index: 1, dueOn: '2026-01-02' });
});

test('properties: dates strictly increase, fall on the wanted day or the month\'s last day, and days are exact', () => {
  const date = fc.date({ min: new Date(Date.UTC(1990, 0, 1)), max: new Date(Date.UTC(2200, 11, 31)), noInvalidDate: true })
    .map((value) => value.toISOString().slice(0, 10));
  fc.assert(fc.property(date, fc.option(fc.integer({ min: 1, max: 31 }), { nil: null }), fc.integer({ min: 1, max: 13 }), fc.integer({ min: 0, max: 5 }),
    (anchor, dayOfMonth, intervalLength, delays) => {
      const rule = monthly(dayOfMonth, delays, intervalLength);
      const dates = series(rule, anchor, 8);
      const wanted = dayOfMonth ?? Number(anchor.slice(8));
      for (let index = 0; index < dates.length; index += 1) {
        if (index > 0) assert.ok(dates[index] > dates[index - 1]);
        const [year, month, day] = dates[index].split('-').map(Number);
        assert.equal(day, Math.min(wanted, daysInMonth(year, month)));
      }
    }));
  fc.assert(fc.property(date, fc.integer({ min: -4000, max: 4000 }), (anchor, days) => {
    const moved = Date.parse(`${addDays(anchor, days)}T00:00:00Z`);
    assert.equal((moved - Date.parse(`${anchor}T00:00:00Z`)) / 86_400_000, days);
  }));
  assert.equal(addMonthsOnDay('2028-01-31', 1, 31), '2028-02-29');
  assert.throws(() => dueDateAt(monthly(31), '2028-01-31', 0), RangeError);
});
