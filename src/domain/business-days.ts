/**
 * Business-day arithmetic for refund deadlines. The cardholder terms pages promise a refund
 * "within 14 business days from the date of receipt of the Application", counted "in business
 * days excluding holidays/weekends". Pure: calendar dates (`YYYY-MM-DD`) in, dates out; the
 * caller decides which calendar day "receipt" was (the platform time zone).
 */

/** Longest promise a merchant may configure; also bounds every loop here. */
export const businessDaysMax = 366;

const datePattern = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Whether `text` is a real calendar date written `YYYY-MM-DD`. */
export function isCalendarDate(text: string): boolean {
  const match = datePattern.exec(text);
  if (!match) return false;
  const date = new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])));
  return date.toISOString().slice(0, 10) === text;
}

function toUtcDate(text: string): Date {
  if (!isCalendarDate(text)) throw new RangeError(`not a calendar date: ${text}`);
  return new Date(`${text}T00:00:00Z`);
}

function formatDate(date: Date): string {
  return date.toISOString().slice(0, 10);
}

function isWeekend(date: Date): boolean {
  const day = date.getUTCDay();
  return day === 0 || day === 6;
}

export function isBusinessDay(dateText: string, holidays: ReadonlySet<string>): boolean {
  return !isWeekend(toUtcDate(dateText)) && !holidays.has(dateText);
}

/**
 * The date `businessDays` business days after `startDate`: the start day itself does not count
 * (an application received on Friday with 1 day is due on Monday), weekends and `holidays`
 * are skipped. Zero days is the start date.
 */
export function addBusinessDays(startDate: string, businessDays: number, holidays: ReadonlySet<string>): string {
  if (!Number.isInteger(businessDays) || businessDays < 0 || businessDays > businessDaysMax) {
    throw new RangeError(`business days must be an integer from 0 to ${businessDaysMax}`);
  }
  const date = toUtcDate(startDate);
  let counted = 0;
  // A year of holidays cannot stretch the walk beyond this: every loop has a limit.
  const stepsMax = businessDays * 7 + 400;
  for (let step = 0; counted < businessDays; step += 1) {
    if (step >= stepsMax) throw new RangeError('too many holidays: no business day found');
    date.setUTCDate(date.getUTCDate() + 1);
    if (!isWeekend(date) && !holidays.has(formatDate(date))) counted += 1;
  }
  return formatDate(date);
}

/** Overdue: the deadline day has passed (the deadline day itself is still in time). */
export function isOverdue(deadlineDate: string, todayDate: string): boolean {
  return todayDate > deadlineDate;
}
