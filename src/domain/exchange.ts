import { currencyExponent } from './currencies.ts';

/**
 * Currency exchange (ADR 0054): exact integer arithmetic on rates written as decimals. A rate
 * FROM→TO says how many units of TO one unit of FROM buys. A payment converts once, with one
 * rounding at the end: half up to TO's minor unit. Pure.
 */

/** A rate as the operator writes it: a positive decimal, at most 10 digits after the point. */
const ratePattern = /^(\d{1,12})(?:\.(\d{1,10}))?$/;

export function parseRate(text: unknown): { numerator: bigint; scale: bigint } | undefined {
  if (typeof text !== 'string') return undefined;
  const match = ratePattern.exec(text.trim());
  if (!match) return undefined;
  const fraction = match[2] ?? '';
  const numerator = BigInt(`${match[1]}${fraction}`);
  if (numerator === 0n) return undefined;
  return { numerator, scale: 10n ** BigInt(fraction.length) };
}

/** The operator's rates (key `FROM>TO`) and the platform's base currency for double conversion. */
export interface ExchangeTable {
  baseCurrency: string | null;
  rates: ReadonlyMap<string, string>;
}

export const noExchange: ExchangeTable = { baseCurrency: null, rates: new Map() };

export function pairKey(from: string, to: string): string {
  return `${from}>${to}`;
}

/** What a payment was converted with: kept on the payment, returned as the spec's exchange_*. */
export interface ExchangeQuote {
  /** The original currency and amount (the spec's exchange_currency, exchange_amount). */
  fromCurrency: string;
  fromAmountMinor: number;
  /** What the MID charges. */
  toCurrency: string;
  toAmountMinor: number;
  /** The rate used (exchange_rate): FROM→TO, or in a double conversion BASE→TO. */
  rate: string;
  /** Double conversion only (exchange_rate_base): FROM→BASE. */
  rateBase: string | null;
}

/** amountMinor × the rates, in TO's minor units, rounded half up once. */
export function convertMinor(amountMinor: number, from: string, to: string, rates: readonly string[]): number {
  const fromExponent = currencyExponent(from);
  const toExponent = currencyExponent(to);
  if (fromExponent === undefined || toExponent === undefined) throw new Error(`unknown currency ${from} or ${to}`);
  let numerator = BigInt(amountMinor) * 10n ** BigInt(toExponent);
  let denominator = 10n ** BigInt(fromExponent);
  for (const text of rates) {
    const rate = parseRate(text);
    if (!rate) throw new Error(`not a rate: ${text}`);
    numerator *= rate.numerator;
    denominator *= rate.scale;
  }
  // Half up: floor((2n + d) / 2d) for positive values.
  return Number((2n * numerator + denominator) / (2n * denominator));
}

/** How `amountMinor` of FROM becomes TO: a direct rate, else through the base currency; none
 * when the currencies are the same or no rate leads there. */
export function quoteExchange(
  table: ExchangeTable, amountMinor: number, from: string, to: string,
): ExchangeQuote | undefined {
  if (from === to) return undefined;
  const direct = table.rates.get(pairKey(from, to));
  const base = table.baseCurrency;
  if (direct !== undefined) {
    return {
      fromCurrency: from, fromAmountMinor: amountMinor, toCurrency: to,
      toAmountMinor: convertMinor(amountMinor, from, to, [direct]), rate: direct, rateBase: null,
    };
  }
  if (base === null || base === from || base === to) return undefined;
  const toBase = table.rates.get(pairKey(from, base));
  const fromBase = table.rates.get(pairKey(base, to));
  if (toBase === undefined || fromBase === undefined) return undefined;
  return {
    fromCurrency: from, fromAmountMinor: amountMinor, toCurrency: to,
    toAmountMinor: convertMinor(amountMinor, from, to, [toBase, fromBase]), rate: fromBase, rateBase: toBase,
  };
}
