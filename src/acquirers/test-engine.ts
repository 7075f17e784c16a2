import { isCardExpired } from '../domain/card.ts';
import type {
  AcquirerConnector, AuthorizationAnswer, AuthorizationRequest, ChallengeCompletion, Decision, DeclineExplanation,
  FollowUpRequest,
} from './connector.ts';

/** Decline texts a merchant can show a cardholder as they are; the README's table repeats them. */
export const declineReasons = {
  declinedByProcessing: 'Declined by processing',
  insufficientFunds: 'Insufficient funds on the card. Check the balance with the bank that issued the card.',
  notEnabledOnline: 'The card is not enabled for online payments. Contact the bank that issued the card.',
  incorrectDetails: 'Card details entered incorrectly. Check the card number, expiry date and CVV2/CVC2.',
  expired: 'The card has expired. Check the expiry date on the front of the card.',
  captureDeclined: 'Capture declined by processing',
  threeDsFailed: '3-D Secure authentication failed',
  threeDsExpired: '3-D Secure authentication was not completed in time',
  redirectCancelled: 'Payment cancelled on the payment provider page',
} as const;

/** The test engine's decline texts by the kind of refusal they are (the hosted page's wording). */
const declineExplanations = new Map<string, DeclineExplanation>([
  [declineReasons.insufficientFunds, 'insufficientFunds'],
  [declineReasons.notEnabledOnline, 'notEnabledOnline'],
  [declineReasons.incorrectDetails, 'incorrectDetails'],
  [declineReasons.expired, 'expired'],
  [declineReasons.threeDsFailed, 'cardholderStep'],
  [declineReasons.threeDsExpired, 'cardholderStep'],
  [declineReasons.redirectCancelled, 'cardholderStep'],
]);

const specTestCard = '4111111111111111';

export type TestCardBehaviour =
  | 'approve' | 'decline' | 'approveThenDeclineCapture'
  | 'threeDsThenApprove' | 'threeDsThenDecline' | 'redirectThenApprove' | 'redirectThenDecline';

/**
 * The spec's test-card table, keyed by expiry. The spec's dates are in 2025–2026, already past:
 * these rows behave as the table says and are never declined as expired. Later versions of the
 * protocol moved the same rows to 2038/2039; those are accepted too for merchants who copied
 * newer documents.
 */
const specRows: Record<string, TestCardBehaviour> = {
  '01/2025': 'approve',
  '02/2025': 'decline',
  '03/2025': 'approveThenDeclineCapture',
  '05/2025': 'threeDsThenApprove',
  '06/2025': 'threeDsThenDecline',
  '12/2025': 'redirectThenApprove',
  '12/2026': 'redirectThenDecline',
  '01/2038': 'approve',
  '02/2038': 'decline',
  '03/2038': 'approveThenDeclineCapture',
  '05/2038': 'threeDsThenApprove',
  '06/2038': 'threeDsThenDecline',
  '12/2038': 'redirectThenApprove',
  '12/2039': 'redirectThenDecline',
};

/** The refusal cases the cardholder terms pages list, one card each, whatever the expiry. A
 * Map: looking a 16-digit string up as an object key costs ~1 µs (V8 first tries it as an
 * array index), ~10 times a Map's look-up; it showed as ~1% of a SALE's CPU. */
const refusalCards = new Map<string, string>([
  ['4000000000009995', declineReasons.insufficientFunds],
  ['4000000000000002', declineReasons.notEnabledOnline],
  ['4000000000000127', declineReasons.incorrectDetails],
  ['4000000000000069', declineReasons.expired],
]);

function expiryKey(month: number, year: number): string {
  return `${String(month).padStart(2, '0')}/${year}`;
}

export function specTestCardBehaviour(bin: string, lastFour: string, month: number, year: number): TestCardBehaviour | undefined {
  if (bin !== specTestCard.slice(0, 6) || lastFour !== specTestCard.slice(-4)) return undefined;
  return specRows[expiryKey(month, year)];
}

const approved: Decision = { outcome: 'approved' };

const declinesAfterChallenge = new Set<TestCardBehaviour>(['decline', 'threeDsThenDecline', 'redirectThenDecline']);

/**
 * The default connector: decides from the card alone, instantly, with no network. For a
 * merchant with 3-D Secure on, the spec's 3-D Secure and redirect rows ask for the cardholder's
 * step first; with 3-D Secure off they end at once as they would after it.
 */
export class TestEngineConnector implements AcquirerConnector {
  readonly name = 'test-engine';
  readonly sideEffectFree: boolean;

  readonly #declineEverything: boolean;

  /** `recordPrepare` makes it behave like a remote bank (PREPARE written first), for tests;
   * `declineEverything` declines every authorization (a MID setting: a sandbox merchant can
   * see what a refusing MID does). */
  constructor(options: { recordPrepare?: boolean; declineEverything?: boolean } = {}) {
    this.sideEffectFree = !options.recordPrepare;
    this.#declineEverything = options.declineEverything === true;
  }
  readonly requiredParameters: readonly string[] = [];

  /** The spec's test table: "Use that card data [4111111111111111, 01/2025] to create recurring
   * payments … Testing recurring payments does not work with other test cards." The same row
   * of later versions (01/2038) behaves the same. */
  canInitiateRecurring(card: { bin: string; lastFour: string; expiryMonth: number; expiryYear: number }): boolean {
    return specTestCardBehaviour(card.bin, card.lastFour, card.expiryMonth, card.expiryYear) === 'approve';
  }

  explainDecline(declineReason: string): DeclineExplanation | undefined {
    return declineExplanations.get(declineReason);
  }

  async authorize(request: AuthorizationRequest): Promise<AuthorizationAnswer> {
    if (this.#declineEverything) return { outcome: 'declined', declineReason: declineReasons.declinedByProcessing };
    const pan = request.card.number.reveal();
    const refusal = refusalCards.get(pan);
    if (refusal) return { outcome: 'declined', declineReason: refusal };
    // CARD2CARD: a refusal card on the receiving side fails the transfer too. Its reasons speak
    // of the payer's card (funds, CVV), so the neutral text is given instead.
    if (request.payeeCardNumber && refusalCards.has(request.payeeCardNumber.reveal())) {
      return { outcome: 'declined', declineReason: declineReasons.declinedByProcessing };
    }
    const behaviour = specTestCardBehaviour(pan.slice(0, 6), pan.slice(-4), request.card.expiryMonth, request.card.expiryYear);
    if (behaviour) {
      if (request.threeDsEnabled && (behaviour === 'threeDsThenApprove' || behaviour === 'threeDsThenDecline')) {
        return { outcome: 'challenge', kind: '3DS' };
      }
      if (request.threeDsEnabled && (behaviour === 'redirectThenApprove' || behaviour === 'redirectThenDecline')) {
        return { outcome: 'challenge', kind: 'REDIRECT' };
      }
      return declinesAfterChallenge.has(behaviour) ? { outcome: 'declined', declineReason: declineReasons.declinedByProcessing } : approved;
    }
    // CREDIT2CARD sends money to a card known by its number alone (expiry 0/0 when the merchant
    // sent none): there is no expiry to judge.
    const expiryKnown = request.card.expiryMonth > 0 && request.card.expiryYear > 0;
    if (expiryKnown && isCardExpired(request.card.expiryMonth, request.card.expiryYear, request.nowMs)) {
      return { outcome: 'declined', declineReason: declineReasons.expired };
    }
    return approved;
  }

  async completeChallenge(request: ChallengeCompletion): Promise<Decision> {
    if (!request.cardholderPassed) {
      return { outcome: 'declined', declineReason: request.kind === '3DS' ? declineReasons.threeDsFailed : declineReasons.redirectCancelled };
    }
    const pan = request.card.number.reveal();
    const behaviour = specTestCardBehaviour(pan.slice(0, 6), pan.slice(-4), request.card.expiryMonth, request.card.expiryYear);
    return behaviour && declinesAfterChallenge.has(behaviour)
      ? { outcome: 'declined', declineReason: declineReasons.declinedByProcessing }
      : approved;
  }

  async capture(request: FollowUpRequest): Promise<Decision> {
    const behaviour = specTestCardBehaviour(request.card.bin, request.card.lastFour, request.card.expiryMonth, request.card.expiryYear);
    return behaviour === 'approveThenDeclineCapture'
      ? { outcome: 'declined', declineReason: declineReasons.captureDeclined }
      : approved;
  }

  async refund(): Promise<Decision> {
    return approved;
  }

  async reverse(): Promise<Decision> {
    return approved;
  }

  async void(): Promise<Decision> {
    return approved;
  }
}
