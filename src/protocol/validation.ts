import { isIP } from 'node:net';
import { isLuhnValid } from '../domain/card.ts';
import { currencyExponent } from '../domain/currencies.ts';
import { customDataLimits } from '../../packages/sdk/src/action-fields.ts';
import type { FieldRule } from '../../packages/sdk/src/field-rules.ts';
import type { FieldError } from './errors.ts';

export type { Check, FieldRule } from '../../packages/sdk/src/field-rules.ts';

/** A request body after form parsing: top-level strings and one level of `parameters[x]`. */
export type RequestFields = Record<string, unknown>;

/** Symfony validator messages, as the spec's error sample and PHP clients expect them. */
export const messages = {
  blank: 'This value should not be blank.',
  notString: 'This value should be of type string.',
  tooLong: (limit: number) => `This value is too long. It should have ${limit} character${limit === 1 ? '' : 's'} or less.`,
  wrongLength: (exact: number) => `This value should have exactly ${exact} characters.`,
  uuid: 'This is not a valid UUID.',
  country: 'This value is not a valid country.',
  currency: 'This value is not a valid currency.',
  date: 'This value is not a valid date.',
  ip: 'This is not a valid IP address.',
  url: 'This value is not a valid URL.',
  email: 'This value is not a valid email address.',
  choice: 'The value you selected is not a valid choice.',
  invalid: 'This value is not valid.',
  greaterThanZero: 'This value should be greater than 0.',
  cardNumber: 'Invalid card number.',
  parameters: 'This value should be a key/value object.',
  recurringInitRequired: 'A schedule can be used only with recurring_init=Y.',
  customDataCard: 'This value must not be a card number.',
  tooMany: (limit: number) => `This collection should contain ${limit} elements or less.`,
  integer: 'This value should be of type integer.',
  positiveOrZero: 'This value should be either positive or zero.',
  dayOfMonth: 'This value should be between 1 and 31.',
  shouldBeBlank: 'This value should be blank.',
} as const;

const regionNames = new Intl.DisplayNames(['en'], { type: 'region', fallback: 'none' });
const countryCache = new Map<string, boolean>();
/** Codes ICU names that are not ISO 3166-1 countries: unions (EU, UN, EZ), withdrawn codes
 * (SU, YU, CS, DD, ZR, TP, AN), exceptional reservations (AC, CP, DG, EA, IC, TA) and the
 * user-assigned ranges AA, QM–QZ, XA–XZ, ZZ. Symfony's Country check refuses them too. */
const notCountries = new Set(['EU', 'UN', 'EZ', 'SU', 'YU', 'CS', 'DD', 'ZR', 'TP', 'AN', 'AC', 'CP', 'DG', 'EA', 'IC', 'TA', 'AA', 'ZZ']);
function isCountryCode(text: string): boolean {
  if (!/^[A-Z]{2}$/.test(text)) return false;
  let known = countryCache.get(text);
  if (known === undefined) {
    const userAssigned = text.startsWith('X') || (text[0] === 'Q' && text[1] >= 'M');
    known = regionNames.of(text) !== undefined && !notCountries.has(text) && !userAssigned;
    countryCache.set(text, known);
  }
  return known;
}

function isCalendarDate(text: string): boolean {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (!match) return false;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const date = new Date(0);
  // setUTCFullYear, unlike Date.UTC, does not map years 0–99 to 1900–1999.
  date.setUTCFullYear(year, month - 1, day);
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

/** Answers for URLs seen lately: a merchant sends the same term_url_3ds with every payment,
 * and parsing it (new URL) each time was ~1% of a SALE's CPU. The answer depends on the text
 * alone; the bound keeps a stream of distinct URLs from growing the map. */
const urlAnswers = new Map<string, boolean>();
const urlAnswersMax = 1_000;

function isHttpUrl(text: string): boolean {
  let answer = urlAnswers.get(text);
  if (answer === undefined) {
    answer = parsesAsHttpUrl(text);
    if (urlAnswers.size >= urlAnswersMax) urlAnswers.clear();
    urlAnswers.set(text, answer);
  }
  return answer;
}

function parsesAsHttpUrl(text: string): boolean {
  // `https:shop.example/x` parses, but a browser on a Kassa page would read it as a relative
  // link and send the cardholder to Kassa's own host: the scheme must be followed by `//`.
  if (/\s/.test(text) || !/^https?:\/\//i.test(text)) return false;
  try {
    const url = new URL(text);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
  } catch {
    return false;
  }
}

const emailPattern = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The entries of each rule table, listed once: the tables are constants, and listing a SALE's
 * 33 rules per request (Object.entries) was ~0.5% of its CPU. */
const ruleEntries = new WeakMap<Record<string, FieldRule>, [string, FieldRule][]>();

function ruleEntriesOf(rules: Record<string, FieldRule>): [string, FieldRule][] {
  let entries = ruleEntries.get(rules);
  if (entries === undefined) {
    entries = Object.entries(rules);
    ruleEntries.set(rules, entries);
  }
  return entries;
}

/**
 * Checks fields against a table and collects every problem at once, in table order, so the
 * merchant sees the whole list like the spec's sample. Returns the trimmed-free string values
 * (the spec does not trim; neither do we).
 */
export function validateFields(
  fields: RequestFields,
  rules: Record<string, FieldRule>,
  errors: FieldError[],
): Record<string, string | undefined> {
  const values: Record<string, string | undefined> = {};
  for (const [field, rule] of ruleEntriesOf(rules)) {
    const raw = fields[field];
    if (raw !== undefined && typeof raw !== 'string') {
      errors.push({ field, message: messages.notString });
      continue;
    }
    if (raw === undefined || raw === '') {
      if (rule.required) errors.push({ field, message: messages.blank });
      continue;
    }
    const problem = checkValue(raw, rule);
    if (problem) errors.push({ field, message: problem });
    else values[field] = raw;
  }
  return values;
}

function checkValue(value: string, rule: FieldRule): string | undefined {
  if (rule.exactLength !== undefined && value.length !== rule.exactLength) return messages.wrongLength(rule.exactLength);
  // Counted in code points, as Symfony does; a string no longer in UTF-16 units cannot have
  // more, so only a long one is spread (spreading every field was ~1% of a SALE's CPU).
  if (rule.maxLength !== undefined && value.length > rule.maxLength && [...value].length > rule.maxLength) {
    return messages.tooLong(rule.maxLength);
  }
  switch (rule.check) {
    case undefined:
    case 'text':
      return undefined;
    case 'uuid':
      return uuidPattern.test(value) ? undefined : messages.uuid;
    case 'country':
      return isCountryCode(value) ? undefined : messages.country;
    case 'currency':
      return currencyExponent(value) !== undefined ? undefined : messages.currency;
    case 'date':
      return isCalendarDate(value) ? undefined : messages.date;
    case 'ip':
      return isIP(value) !== 0 ? undefined : messages.ip;
    case 'url':
      return isHttpUrl(value) ? undefined : messages.url;
    case 'email':
      return emailPattern.test(value) ? undefined : messages.email;
    case 'yesNo':
      return value === 'Y' || value === 'N' ? undefined : messages.choice;
    case 'cardNumber':
      return /^\d{12,19}$/.test(value) && isLuhnValid(value) ? undefined : messages.cardNumber;
    case 'month':
      return /^(0[1-9]|1[0-2])$/.test(value) ? undefined : messages.invalid;
    case 'year':
      return /^\d{4}$/.test(value) ? undefined : messages.invalid;
    case 'cvv':
      return /^\d{3,4}$/.test(value) ? undefined : messages.invalid;
    case 'amountText':
      return /^\d+(\.\d+)?$/.test(value) ? undefined : messages.invalid;
    case 'positiveInteger':
      if (!/^-?\d{1,9}$/.test(value)) return messages.integer;
      return Number(value) > 0 ? undefined : messages.greaterThanZero;
    case 'nonNegativeInteger':
      if (!/^-?\d{1,9}$/.test(value)) return messages.integer;
      return Number(value) >= 0 ? undefined : messages.positiveOrZero;
    case 'dayOfMonth':
      if (!/^-?\d{1,9}$/.test(value)) return messages.integer;
      return Number(value) >= 1 && Number(value) <= 31 ? undefined : messages.dayOfMonth;
    case 'intervalUnit':
      return value === 'day' || value === 'month' ? undefined : messages.choice;
  }
}

/** `parameters[x]=y` becomes an object of strings; anything else there is a field error. */
export function validateParameters(fields: RequestFields, errors: FieldError[]): Record<string, string> | undefined {
  const raw = fields.parameters;
  if (raw === undefined || raw === '') return undefined;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    errors.push({ field: 'parameters', message: messages.parameters });
    return undefined;
  }
  const parameters: Record<string, string> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (typeof value !== 'string' || key.length > 64 || value.length > 1024) {
      errors.push({ field: `parameters[${key.slice(0, 64)}]`, message: messages.invalid });
      continue;
    }
    parameters[key] = value;
  }
  return parameters;
}

/** 5.6.x `custom_data[key]=value`: an object of strings within `customDataLimits`, echoed in
 * callbacks, so a value that reads as a card number (Luhn-valid, 12–19 digits once spaces and
 * dashes are gone) is refused: card data must never reach a callback. Never echoes a value. */
export function validateCustomData(fields: RequestFields, errors: FieldError[]): Record<string, string> | undefined {
  const raw = fields.custom_data;
  if (raw === undefined || raw === '') return undefined;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    errors.push({ field: 'custom_data', message: messages.parameters });
    return undefined;
  }
  const entries = Object.entries(raw);
  if (entries.length > customDataLimits.maxKeys) {
    errors.push({ field: 'custom_data', message: messages.tooMany(customDataLimits.maxKeys) });
    return undefined;
  }
  const customData: Record<string, string> = {};
  for (const [key, value] of entries) {
    const field = `custom_data[${key.slice(0, customDataLimits.maxKeyLength)}]`;
    if (typeof value !== 'string' || key === '' || key.length > customDataLimits.maxKeyLength) {
      errors.push({ field, message: messages.invalid });
    } else if (value.length > customDataLimits.maxValueLength) {
      errors.push({ field, message: messages.tooLong(customDataLimits.maxValueLength) });
    } else if (looksLikeCardNumber(value)) {
      errors.push({ field, message: messages.customDataCard });
    } else {
      customData[key] = value;
    }
  }
  return customData;
}

function looksLikeCardNumber(value: string): boolean {
  const digits = value.replace(/[\s-]/g, '');
  return /^\d{12,19}$/.test(digits) && isLuhnValid(digits);
}
