import { cardBrand, isLuhnValid, type CardBrand } from './card.ts';

/**
 * What a cardholder typed on the hosted payment page, checked before anything goes to the
 * acquirer. Problems are codes, not sentences: the page words them in the cardholder's language.
 * Pure. Expiry in the past is NOT a problem here: the issuer decides (and the sandbox's test
 * cards carry the spec's 2025 dates), and the decline page then explains the expired card.
 */

export type CardEntryField = 'cardNumber' | 'cardholderName' | 'expiry' | 'cvv';
export type CardEntryProblem =
  | 'numberMissing' | 'numberCharacters' | 'numberLength' | 'numberInvalid'
  | 'nameMissing' | 'nameInvalid'
  | 'expiryMissing' | 'expiryFormat' | 'expiryMonth'
  | 'cvvMissing' | 'cvvFormat';

export interface CardEntryInput {
  cardNumber: string;
  cardholderName: string;
  expiry: string;
  cvv: string;
}

export interface CardEntry {
  digits: string;
  brand: CardBrand;
  cardholderName: string;
  expiryMonth: number;
  expiryYear: number;
  cvv: string;
}

export type CardEntryCheck =
  | { ok: true; entry: CardEntry }
  | { ok: false; problems: Partial<Record<CardEntryField, CardEntryProblem>>; brand: CardBrand };

/** Card number lengths each scheme issues; anything else is a typing mistake. */
const lengthsByBrand: Record<CardBrand, readonly number[]> = {
  VISA: [13, 16, 19],
  MASTERCARD: [16],
  MIR: [16, 17, 18, 19],
  UNIONPAY: [16, 17, 18, 19],
  AMEX: [15],
  JCB: [16, 17, 18, 19],
  DISCOVER: [16, 17, 18, 19],
  MAESTRO: [12, 13, 14, 15, 16, 17, 18, 19],
  UNKNOWN: [12, 13, 14, 15, 16, 17, 18, 19],
};

export const brandNames: Record<CardBrand, string> = {
  VISA: 'Visa', MASTERCARD: 'Mastercard', MIR: 'MIR', UNIONPAY: 'UnionPay', AMEX: 'American Express',
  JCB: 'JCB', DISCOVER: 'Discover', MAESTRO: 'Maestro', UNKNOWN: '',
};

export const cardholderNameLengthMax = 64;

/** Spaces and dashes are how people copy numbers from a card; everything else must be a digit. */
export function cardDigitsOf(text: string): string {
  return text.replace(/[\s-]/g, '');
}

function checkNumber(text: string): { digits: string; brand: CardBrand; problem?: CardEntryProblem } {
  const digits = cardDigitsOf(text);
  if (digits === '') return { digits, brand: 'UNKNOWN', problem: 'numberMissing' };
  if (!/^\d+$/.test(digits)) return { digits, brand: 'UNKNOWN', problem: 'numberCharacters' };
  const brand = cardBrand(digits);
  if (!lengthsByBrand[brand].includes(digits.length)) return { digits, brand, problem: 'numberLength' };
  if (!isLuhnValid(digits)) return { digits, brand, problem: 'numberInvalid' };
  return { digits, brand };
}

function checkName(text: string): { name: string; problem?: CardEntryProblem } {
  const name = text.trim().replace(/\s+/g, ' ');
  if (name === '') return { name, problem: 'nameMissing' };
  // Any script is accepted (the name is only stored and shown), but it must read as a name.
  const length = [...name].length;
  if (length < 2 || length > cardholderNameLengthMax || !/\p{L}/u.test(name) || /\p{C}/u.test(name)) {
    return { name, problem: 'nameInvalid' };
  }
  return { name };
}

/** MM/YY as printed on cards; also MM/YYYY, MMYY and M/YY, with or without spaces. */
function checkExpiry(text: string): { month: number; year: number; problem?: CardEntryProblem } {
  const compact = text.replace(/\s/g, '');
  if (compact === '') return { month: 0, year: 0, problem: 'expiryMissing' };
  const match = /^(\d{1,2})\/?(\d{2}|\d{4})$/.exec(compact);
  if (!match || (match[1].length === 1 && !compact.includes('/'))) return { month: 0, year: 0, problem: 'expiryFormat' };
  const month = Number(match[1]);
  const year = match[2].length === 2 ? 2000 + Number(match[2]) : Number(match[2]);
  if (month < 1 || month > 12) return { month, year, problem: 'expiryMonth' };
  return { month, year };
}

function checkCvv(text: string, brand: CardBrand): { cvv: string; problem?: CardEntryProblem } {
  const cvv = text.trim();
  if (cvv === '') return { cvv, problem: 'cvvMissing' };
  const expectedLength = brand === 'AMEX' ? 4 : 3;
  return new RegExp(`^\\d{${expectedLength}}$`).test(cvv) ? { cvv } : { cvv, problem: 'cvvFormat' };
}

export function checkCardEntry(input: CardEntryInput): CardEntryCheck {
  const number = checkNumber(input.cardNumber);
  const name = checkName(input.cardholderName);
  const expiry = checkExpiry(input.expiry);
  const cvv = checkCvv(input.cvv, number.brand);
  const problems: Partial<Record<CardEntryField, CardEntryProblem>> = {};
  if (number.problem) problems.cardNumber = number.problem;
  if (name.problem) problems.cardholderName = name.problem;
  if (expiry.problem) problems.expiry = expiry.problem;
  if (cvv.problem) problems.cvv = cvv.problem;
  if (Object.keys(problems).length > 0) return { ok: false, problems, brand: number.brand };
  return {
    ok: true,
    entry: {
      digits: number.digits, brand: number.brand, cardholderName: name.name,
      expiryMonth: expiry.month, expiryYear: expiry.year, cvv: cvv.cvv,
    },
  };
}

/** "John Ronald Smith" → first "John Ronald", last "Smith": the SALE's payer_first/last_name. */
export function splitCardholderName(name: string): { firstName: string; lastName: string } {
  const parts = name.split(' ');
  if (parts.length === 1) return { firstName: '', lastName: parts[0] };
  return { firstName: parts.slice(0, -1).join(' '), lastName: parts.at(-1)! };
}
