import type { Secret } from '../domain/secret.ts';

/** What an acquirer connector sees of a card at authorization. */
export interface CardForAuthorization {
  number: Secret<string>;
  expiryMonth: number;
  expiryYear: number;
  cvv: Secret<string>;
}

/** What a connector keeps seeing of a card after authorization: never the PAN or CVV. */
export interface CardSummary {
  bin: string;
  lastFour: string;
  expiryMonth: number;
  expiryYear: number;
}

export interface AuthorizationRequest {
  transId: string;
  card: CardForAuthorization;
  amountMinor: number;
  currency: string;
  /** true for SALE (authorize and capture), false for AUTH (hold only). */
  capture: boolean;
  threeDsEnabled: boolean;
  parameters: Record<string, string>;
  nowMs: number;
  /** RECURRING_SALE, a scheduled charge: the cardholder is not present and no CVV is sent
   * (`card.cvv` is empty). */
  merchantInitiated?: boolean;
  /** The request action that created the payment (SALE, RECURRING_SALE, DEBIT, CARD2CARD, …). */
  action?: string;
  /** CARD2CARD: the card the money goes to (`card` is the payer's, which is charged). */
  payeeCardNumber?: CardForAuthorization['number'];
}

export type Decision =
  /** `descriptor` overrides the merchant's configured one when the bank sends its own. */
  | { outcome: 'approved'; descriptor?: string }
  | { outcome: 'declined'; declineReason: string };

/** What authorize() may answer besides a decision: the cardholder must act first, on the
 * issuer's 3-D Secure page (`3DS`) or on a payment provider's page (`REDIRECT`). */
export type AuthorizationAnswer = Decision | { outcome: 'challenge'; kind: '3DS' | 'REDIRECT' };

/** After the cardholder's step: the card again (PAN and CVV held encrypted during the wait)
 * and whether the cardholder passed. */
export interface ChallengeCompletion {
  transId: string;
  kind: '3DS' | 'REDIRECT';
  card: CardForAuthorization;
  amountMinor: number;
  currency: string;
  capture: boolean;
  cardholderPassed: boolean;
  nowMs: number;
}

export interface FollowUpRequest {
  transId: string;
  card: CardSummary;
  amountMinor: number;
  currency: string;
  nowMs: number;
}

/** What kind of refusal a decline is, for pages that explain it to the cardholder in their
 * language (the hosted payment page): the decline_reason texts are the connector's own. */
export type DeclineExplanation =
  | 'insufficientFunds' | 'notEnabledOnline' | 'incorrectDetails' | 'expired'
  /** The cardholder's 3-D Secure or payment-provider step failed, was cancelled or timed out. */
  | 'cardholderStep'
  | 'other';

/**
 * The seam between the platform and a bank. The platform writes PREPARE before calling it and
 * the outcome after, outside any database transaction, so a slow or crashed acquirer call never
 * holds a lock and a restart can find what was in flight.
 */
export interface AcquirerConnector {
  readonly name: string;
  /**
   * true when authorize() has no effect outside this process (the test engine): nothing can be
   * left half-done at a bank by a crash, so SALE commits its final state in one transaction
   * instead of writing PREPARE first. A connector to a real bank must say false.
   */
  readonly sideEffectFree: boolean;
  /** Extra `parameters[...]` this connector needs for SALE (Appendix C); missing ones fail
   * validation. */
  readonly requiredParameters: readonly string[];
  /** The same per action (DEBIT, CREDIT2CARD, CARD2CARD, …); absent means `requiredParameters`
   * for SALE and none for the other actions. */
  requiredParametersFor?(action: string): readonly string[];
  /** Whether this card may start recurring payments (recurring_init=Y gets a recurring_token);
   * absent means every card may. The test engine allows only the spec's card 01/2025. */
  canInitiateRecurring?(card: CardSummary): boolean;
  /** Which kind of refusal a decline_reason of this connector is; absent, or undefined for a
   * text it does not know, means 'other'. */
  explainDecline?(declineReason: string): DeclineExplanation | undefined;
  authorize(request: AuthorizationRequest): Promise<AuthorizationAnswer>;
  /** Authorization after the cardholder's 3-D Secure or redirect step. */
  completeChallenge(request: ChallengeCompletion): Promise<Decision>;
  capture(request: FollowUpRequest): Promise<Decision>;
  refund(request: FollowUpRequest): Promise<Decision>;
  reverse(request: FollowUpRequest): Promise<Decision>;
  void(request: FollowUpRequest): Promise<Decision>;
  /**
   * What became of an operation whose outcome was unknown (the call threw or timed out):
   * the bank's decision, or `unknown` if the bank cannot tell yet. Absent: the connector cannot
   * ask (the test engine, whose calls never leave the process). The reconciler calls this and
   * then `finishUnknownOperation` (operations/finish-operation.ts).
   */
  inquire?(request: InquiryRequest): Promise<Decision | { outcome: 'unknown' }>;
}

export interface InquiryRequest {
  transId: string;
  /** The sub-transaction asked about: CAPTURE, REFUND, REVERSAL, VOID, SALE, AUTH, … */
  operationId: string;
  operationType: string;
  amountMinor: number;
  currency: string;
  nowMs: number;
}
