import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { addBusinessDays, isBusinessDay, isCalendarDate, isOverdue } from './business-days.ts';

const none = new Set<string>();

test('the day of receipt does not count; weekends are skipped', () => {
  // 2026-11-23 is a Monday.
  assert.equal(addBusinessDays('2026-11-23', 1, none), '2026-11-24');
  assert.equal(addBusinessDays('2026-11-23', 4, none), '2026-11-27', 'Friday');
  assert.equal(addBusinessDays('2026-11-23', 5, none), '2026-11-30', 'over the weekend to Monday');
  assert.equal(addBusinessDays('2026-11-27', 1, none), '2026-11-30', 'received Friday, 1 day: Monday');
  assert.equal(addBusinessDays('2026-11-28', 1, none), '2026-11-30', 'received Saturday, 1 day: Monday');
  assert.equal(addBusinessDays('2026-11-29', 0, none), '2026-11-29', 'zero days is the day itself');
});

test('the seeds\' 10, 14 and 21 business days, across a month end', () => {
  assert.equal(addBusinessDays('2026-11-23', 10, none), '2026-12-07');
  assert.equal(addBusinessDays('2026-11-23', 14, none), '2026-12-11');
  assert.equal(addBusinessDays('2026-11-23', 21, none), '2026-12-22');
});

test('holidays are skipped, also when they fall next to a weekend and across a year end', () => {
  // Kazakhstan's Independence Day, 16 December 2026, is a Wednesday.
  assert.equal(addBusinessDays('2026-12-15', 1, new Set(['2026-12-16'])), '2026-12-17');
  // New Year: 1–2 January 2027 are Friday and Saturday; 31 December is a Thursday.
  const newYear = new Set(['2027-01-01', '2027-01-02']);
  assert.equal(addBusinessDays('2026-12-30', 2, newYear), '2027-01-04');
  assert.equal(addBusinessDays('2026-12-30', 2, none), '2027-01-01');
  // February in a leap year and not.
  assert.equal(addBusinessDays('2028-02-28', 1, none), '2028-02-29');
  assert.equal(addBusinessDays('2027-02-26', 1, none), '2027-03-01');
  assert.equal(isBusinessDay('2027-01-01', newYear), false);
  assert.equal(isBusinessDay('2027-01-04', newYear), true);
});

test('the deadline is always a business day, never earlier than the calendar days, and the count is exact', () => {
  const start = Date.UTC(2024, 0, 1);
  fc.assert(fc.property(
    fc.integer({ min: 0, max: 3650 }), fc.integer({ min: 1, max: 60 }), fc.array(fc.integer({ min: 0, max: 120 }), { maxLength: 15 }),
    (offsetDays, businessDays, holidayOffsets) => {
      const startDate = new Date(start + offsetDays * 86_400_000).toISOString().slice(0, 10);
      const holidays = new Set(holidayOffsets.map((offset) => new Date(start + (offsetDays + offset) * 86_400_000).toISOString().slice(0, 10)));
      const deadline = addBusinessDays(startDate, businessDays, holidays);
      assert.ok(isBusinessDay(deadline, holidays));
      assert.ok(deadline > startDate);
      let counted = 0;
      for (let day = 1; day <= 500; day += 1) {
        const date = new Date(Date.parse(`${startDate}T00:00:00Z`) + day * 86_400_000).toISOString().slice(0, 10);
        if (date > deadline) break;
        if (isBusinessDay(date, holidays)) counted += 1;
      }
      assert.equal(counted, businessDays);
    },
  ), { numRuns: 300 });
});

test('overdue once the deadline day has passed; bad input is refused', () => {
  assert.equal(isOverdue('2026-12-11', '2026-12-11'), false);
  assert.equal(isOverdue('2026-12-11', '2026-12-12'), true);
  assert.equal(isCalendarDate('2026-02-30'), false);
  assert.equal(isCalendarDate('2026-02-28'), true);
  assert.throws(() => addBusinessDays('2026-02-30', 1, none), RangeError);
  assert.throws(() => addBusinessDays('2026-02-03', -1, none), RangeError);
  assert.throws(() => addBusinessDays('2026-02-03', 1000, none), RangeError);
});
