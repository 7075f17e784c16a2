/** `trans_date` is exactly `YYYY-MM-DD HH:MM:SS` in the platform's time zone. */
const formatters = new Map<string, Intl.DateTimeFormat>();

/** The last answer: a second's text is the same for every payment made in it (hundreds a
 * second under load; formatting each afresh was ~1% of a SALE's CPU). */
let last = { second: NaN, timeZone: '', text: '' };

export function formatTransDate(epochMs: number, timeZone: string): string {
  const second = Math.floor(epochMs / 1000);
  if (second === last.second && timeZone === last.timeZone) return last.text;
  const text = formatSecond(second * 1000, timeZone);
  last = { second, timeZone, text };
  return text;
}

function formatSecond(epochMs: number, timeZone: string): string {
  if (timeZone === 'UTC') return new Date(epochMs).toISOString().slice(0, 19).replace('T', ' ');
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-CA', {
      timeZone, year: 'numeric', month: '2-digit', day: '2-digit',
      hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23',
    });
    formatters.set(timeZone, formatter);
  }
  const parts = Object.fromEntries(formatter.formatToParts(epochMs).map((part) => [part.type, part.value]));
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}:${parts.second}`;
}

/** The financial day of an instant: its calendar date in the platform's time zone. */
export function financialDay(epochMs: number, timeZone: string): string {
  return formatTransDate(epochMs, timeZone).slice(0, 10);
}

export function isValidTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone });
    return true;
  } catch {
    return false;
  }
}
