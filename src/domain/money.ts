import { currencyExponent, currenciesSentWithTwoDecimals } from './currencies.ts';

/** Largest amount accepted, in minor units: well inside Number.MAX_SAFE_INTEGER and a bigint
 * column, and far above any real card payment. */
export const amountMinorMax = 10 ** 15;

export type AmountParse =
  | { ok: true; amountMinor: number }
  | { ok: false; problem: 'format' | 'not_positive' | 'too_large' };

const amountPattern = /^(\d{1,16})(?:\.(\d{1,4}))?$/;

/**
 * Parses an amount as the spec writes it: integers for zero-exponent currencies, `XX.XX` for
 * exponent 2, `XXX.XXX` for 3, `XXX.XXXX` for 4, and `XX.XX` with zero decimals for UGX, JPY,
 * KRW and CLP. Fewer decimals than the exponent (`10`, `10.5` in USD) are accepted, as PHP
 * clients that skip number_format send them; more decimals than the currency has are refused,
 * since rounding someone's money silently is worse than an error.
 */
export function parseAmount(text: string, currency: string): AmountParse {
  const exponent = currencyExponent(currency);
  const match = amountPattern.exec(text);
  if (exponent === undefined || !match) return { ok: false, problem: 'format' };
  const whole = match[1];
  const fraction = match[2] ?? '';
  if (fraction.length > exponent) {
    const zeroDecimalsAllowed = exponent === 0 && currenciesSentWithTwoDecimals.has(currency);
    if (!zeroDecimalsAllowed || !/^0+$/.test(fraction) || fraction.length > 2) {
      return { ok: false, problem: 'format' };
    }
  }
  const significantFraction = exponent === 0 ? '' : fraction.padEnd(exponent, '0');
  const amountMinor = Number(whole + significantFraction);
  if (amountMinor > amountMinorMax) return { ok: false, problem: 'too_large' };
  if (amountMinor <= 0) return { ok: false, problem: 'not_positive' };
  return { ok: true, amountMinor };
}

/** Formats minor units the way responses and callbacks carry amounts: `"0.02"`, `"1000"`,
 * and `"100.00"` for the four currencies the spec wants with two zero decimals. */
export function formatAmount(amountMinor: number, currency: string): string {
  const exponent = currencyExponent(currency) ?? 2;
  if (exponent === 0) {
    return currenciesSentWithTwoDecimals.has(currency) ? `${amountMinor}.00` : String(amountMinor);
  }
  const digits = String(amountMinor).padStart(exponent + 1, '0');
  return `${digits.slice(0, -exponent)}.${digits.slice(-exponent)}`;
}
