import { cardBrand, type CardBrand } from '../domain/card.ts';
import { currencyExponent } from '../domain/currencies.ts';
import { parseAmount } from '../domain/money.ts';
import { knownBrands, routedActions, type RoutedAction } from '../domain/routing.ts';
import { RoutingInputError } from './manage-routing.ts';
import { explainRoute, type RouteExplanation } from './routing.ts';
import type { PlatformContext } from './context.ts';

/**
 * "Which MID would take this payment, and why": `kassa routing explain` and the console's
 * routing explanation both ask here, so the two can never disagree (docs/adr/0086). The
 * question arrives as people type it; each problem names its field.
 */
export interface RouteQuestion {
  clientKey?: string;
  brand?: string;
  /** The card's first 6 (to 8) digits; only its brand is used. */
  cardBin?: string;
  currency?: string;
  amount?: string;
  action?: string;
  auth?: boolean;
  /** ISO 8601; absent: now on the platform clock. */
  at?: string;
}

export type RouteQuestionField = 'clientKey' | 'brand' | 'cardBin' | 'currency' | 'amount' | 'action' | 'at';

export interface RouteQuestionProblem {
  field: RouteQuestionField;
  message: string;
}

export type RouteAnswer = { ok: true; explanation: RouteExplanation } | { ok: false; problems: RouteQuestionProblem[] };

function brandOf(question: RouteQuestion, problems: RouteQuestionProblem[]): CardBrand | undefined {
  const bin = question.cardBin?.trim() ?? '';
  if (bin !== '') {
    if (!/^\d{6,8}$/.test(bin)) {
      problems.push({ field: 'cardBin', message: 'a BIN is the first 6 to 8 digits of the card' });
      return undefined;
    }
    return cardBrand(bin);
  }
  const brand = question.brand?.trim().toUpperCase() ?? '';
  if (brand !== '' && (knownBrands as readonly string[]).includes(brand)) return brand as CardBrand;
  problems.push({ field: 'brand', message: 'names no known brand (give a brand or a card BIN)' });
  return undefined;
}

export async function askRoute(
  context: Pick<PlatformContext, 'storage' | 'timeZone' | 'clock'>,
  question: RouteQuestion,
): Promise<RouteAnswer> {
  const problems: RouteQuestionProblem[] = [];
  const clientKey = question.clientKey?.trim().toLowerCase() ?? '';
  if (clientKey === '') problems.push({ field: 'clientKey', message: 'is required' });
  const currency = question.currency?.trim().toUpperCase() ?? '';
  if (currency === '') problems.push({ field: 'currency', message: 'is required' });
  else if (currencyExponent(currency) === undefined)
    problems.push({ field: 'currency', message: 'not a currency Kassa knows' });
  const amountText = question.amount?.trim() ?? '';
  const amount = currencyExponent(currency) === undefined ? undefined : parseAmount(amountText, currency);
  if (amountText === '') problems.push({ field: 'amount', message: 'is required' });
  else if (amount && !amount.ok) problems.push({ field: 'amount', message: `not an amount in ${currency}` });
  const brand = brandOf(question, problems);
  const action = (question.action?.trim() || 'SALE').toUpperCase() as RoutedAction;
  if (!routedActions.includes(action))
    problems.push({ field: 'action', message: `must be one of ${routedActions.join(', ')}` });
  const atText = question.at?.trim() ?? '';
  const atMs = atText === '' ? context.clock.nowMs() : Date.parse(atText);
  if (Number.isNaN(atMs)) problems.push({ field: 'at', message: 'is not a date and time (2026-11-23T10:00:00Z)' });
  if (problems.length > 0 || !brand || !amount?.ok) return { ok: false, problems };
  try {
    const payment = { action, isAuth: question.auth === true, brand, currency, amountMinor: amount.amountMinor };
    return { ok: true, explanation: await explainRoute(context, clientKey, payment, atMs) };
  } catch (error) {
    if (!(error instanceof RoutingInputError)) throw error;
    return { ok: false, problems: error.problems.map((message) => ({ field: 'clientKey', message })) };
  }
}
