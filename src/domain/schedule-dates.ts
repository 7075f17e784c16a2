/**
 * Due dates of a recurring schedule. Pure: works on calendar dates (`YYYY-MM-DD` in the
 * platform's time zone), takes every input it needs, never reads the clock.
 *
 * The series, for an initiating payment made on `anchorOn` (series index k = 1, 2, …):
 *   day:   anchorOn + (delays + k) × interval_length days
 *   month: the month anchorOn + (delays + k) × interval_length months, on day_of_month (or the
 *          anchor's own day when day_of_month is not set), clamped to that month's last day.
 * Each date is computed from the anchor, never from the previous date, so a clamped 29 Feb
 * does not drag later dates to the 29th. `delays` skips whole intervals before the first
 * payment; the initiating payment itself is not one of the `payments_count` payments.
 */

export type IntervalUnit = 'day' | 'month';

export interface ScheduleRule {
  intervalUnit: IntervalUnit;
  intervalLength: number;
  /** 1–31; null: the day of month of the initiating payment. */
  dayOfMonth: number | null;
  delays: number;
}

const datePattern = /^(\d{4})-(\d{2})-(\d{2})$/;

interface Parts {
  year: number;
  month: number;
  day: number;
}

function partsOf(date: string): Parts {
  const match = datePattern.exec(date);
  if (!match) throw new RangeError(`not a calendar date: ${date}`);
  return { year: Number(match[1]), month: Number(match[2]), day: Number(match[3]) };
}

function textOf({ year, month, day }: Parts): string {
  return `${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
}

export function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

export function daysInMonth(year: number, month: number): number {
  if (month === 2) return isLeapYear(year) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

export function addDays(date: string, days: number): string {
  const { year, month, day } = partsOf(date);
  const utc = new Date(0);
  utc.setUTCFullYear(year, month - 1, day + days);
  return textOf({ year: utc.getUTCFullYear(), month: utc.getUTCMonth() + 1, day: utc.getUTCDate() });
}

/** The month `months` after the date's month, on `day` clamped to that month's last day. */
export function addMonthsOnDay(date: string, months: number, day: number): string {
  const { year, month } = partsOf(date);
  const monthIndex = year * 12 + (month - 1) + months;
  const targetYear = Math.floor(monthIndex / 12);
  const targetMonth = (monthIndex % 12) + 1;
  return textOf({ year: targetYear, month: targetMonth, day: Math.min(day, daysInMonth(targetYear, targetMonth)) });
}

export function assertRule(rule: ScheduleRule): void {
  if (!Number.isInteger(rule.intervalLength) || rule.intervalLength <= 0) throw new RangeError('interval_length must be > 0');
  if (!Number.isInteger(rule.delays) || rule.delays < 0) throw new RangeError('delays must be ≥ 0');
  if (rule.dayOfMonth !== null && (!Number.isInteger(rule.dayOfMonth) || rule.dayOfMonth < 1 || rule.dayOfMonth > 31)) {
    throw new RangeError('day_of_month must be 1–31');
  }
}

/** The due date of series index `index` (1-based). */
export function dueDateAt(rule: ScheduleRule, anchorOn: string, index: number): string {
  if (!Number.isInteger(index) || index < 1) throw new RangeError('the series starts at index 1');
  const steps = (rule.delays + index) * rule.intervalLength;
  if (rule.intervalUnit === 'day') return addDays(anchorOn, steps);
  return addMonthsOnDay(anchorOn, steps, rule.dayOfMonth ?? partsOf(anchorOn).day);
}

/** A bound on the dates one call may step over (a pause of ~270 years of daily payments). */
const stepsMax = 100_000;

/**
 * The next date to handle after series index `afterIndex`: dates before `notBefore` (the day a
 * paused schedule was run again) were skipped by the pause and are passed over.
 */
export function nextDueDate(rule: ScheduleRule, anchorOn: string, afterIndex: number, notBefore: string | null = null): { index: number; dueOn: string } {
  let index = afterIndex + 1;
  let dueOn = dueDateAt(rule, anchorOn, index);
  for (let steps = 0; notBefore !== null && dueOn < notBefore; steps += 1) {
    if (steps >= stepsMax) throw new RangeError('too many skipped dates');
    index += 1;
    dueOn = dueDateAt(rule, anchorOn, index);
  }
  return { index, dueOn };
}
