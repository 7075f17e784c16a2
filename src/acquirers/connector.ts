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
  /** The platform's id of this sub-transaction (SALE, AUTH, DEBIT, …): what `inquire` is later
   * asked about. Send it to the bank as your reference when the bank keeps one. */
  operationId?: string;
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
  /** The payer's fields as the merchant sent them (payer_first_name, payer_email, …), for a bank
   * that wants them (another platform of this protocol requires them). */
  payer?: Readonly<Record<string, string>>;
  /** CARD2CARD: the card the money goes to (`card` is the payer's, which is charged). */
  payeeCardNumber?: CardForAuthorization['number'];
  /** CREDIT2CARD, CARD2CARD: the payee_* fields as the merchant sent them. */
  payee?: Readonly<Record<string, string>>;
  /** Where a bank that runs the cardholder's 3-D Secure step itself sends the cardholder back
   * (pass-through): the platform's own signed URL for this transaction, which finishes the
   * payment and then sends the cardholder to the merchant's exact term_url_3ds. */
  returnUrl?: string;
}

/** Where the cardholder goes for a step the bank runs itself (3-D Secure pass-through). */
export interface BankRedirect {
  url: string;
  method: 'POST' | 'GET';
  params: Record<string, string>;
}

export type Decision =
  /** `descriptor` overrides the merchant's configured one when the bank sends its own. */
  | { outcome: 'approved'; descriptor?: string }
  | { outcome: 'declined'; declineReason: string };

/** What authorize() may answer besides a decision: the cardholder must act first, on the
 * issuer's 3-D Secure page (`3DS`) or on a payment provider's page (`REDIRECT`). */
export type AuthorizationAnswer =
  | Decision
  /** `redirect`: the bank's own page (pass-through, see `challengesAtTheBank`); absent, the
   * platform's emulated issuer or payment provider page. */
  | { outcome: 'challenge'; kind: '3DS' | 'REDIRECT'; redirect?: BankRedirect };

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
  /** The payer's e-mail (a bank of this protocol signs its status inquiry with it). */
  payerEmail?: string;
}

/** Another sub-transaction of the same type of the payment (its other refunds), as the platform
 * knows it: a bank without a per-operation reference matches its own rows against these. */
export interface SiblingOperation {
  amountMinor: number;
  status: 'success' | 'fail' | 'waiting';
}

export interface FollowUpRequest {
  transId: string;
  /** The payer's e-mail of the payment (a platform of this protocol signs follow-ups with it). */
  payerEmail?: string;
  /** The platform's id of this CAPTURE, REFUND, REVERSAL or VOID (a payment may have several
   * refunds): what `inquire` is later asked about. */
  operationId?: string;
  card: CardSummary;
  amountMinor: number;
  currency: string;
  nowMs: number;
  /** The payment's other sub-transactions of this type, oldest first (docs/adr/0092, amended). */
  siblings?: readonly SiblingOperation[];
}

/** What kind of refusal a decline is, for pages that explain it to the cardholder in their
 * language (the hosted payment page): the decline_reason texts are the connector's own. */
export type DeclineExplanation =
  | 'insufficientFunds' | 'notEnabledOnline' | 'incorrectDetails' | 'expired'
  /** The cardholder's 3-D Secure or payment-provider step failed, was cancelled or timed out. */
  | 'cardholderStep'
  | 'other';

/** One of the acquirer's own decline codes, as the connector reports it (`declineCodes`). */
export interface DeclineCode {
  /** The decline_reason text the merchant gets (shown to cardholders as it is). */
  declineReason: string;
  /** The kind of refusal; `explainDecline(declineReason)` must say the same. */
  explanation: DeclineExplanation;
}

/**
 * The seam between the platform and a bank: the contract a connector author implements
 * (docs/connectors.md is the guide; `runConnectorConformance` in ./conformance.ts checks it).
 *
 * The platform writes PREPARE before calling it and the outcome after, outside any database
 * transaction, so a slow or crashed acquirer call never holds a lock and a restart can find what
 * was in flight. Rules every method follows:
 * - **Resolve** with a decision the bank gave, **reject** (throw) when the bank's answer is not
 *   known: a timeout after the request may have reached the bank, a reset connection, an answer
 *   that cannot be read. A rejection is an unknown outcome: the operation stays waiting
 *   (PREPARE) and the reconciler asks `inquire` later. Never turn "I do not know" into a decline:
 *   the bank may have moved the money.
 * - A decline is only for a refusal the bank gave, or for a request that provably never left
 *   (connection refused, an open circuit): nothing can have happened at the bank.
 * - Bound every wait yourself (connect and answer timeouts); the platform's `acquirerTimeoutMs`
 *   is a last resort whose late answer is thrown away.
 * - Never put the PAN or CVV in an error message, a log line or a decline_reason.
 */
export interface AcquirerConnector {
  readonly name: string;
  /**
   * Declared side effects. true when calls have no effect outside this process (the test
   * engine): nothing can be left half-done at a bank by a crash, so SALE commits its final state
   * in one transaction instead of writing PREPARE first. A connector to a real bank must say
   * false, and must then implement `inquire`.
   */
  readonly sideEffectFree: boolean;
  /** The declared Appendix C parameter set for SALE: extra `parameters[...]` this connector
   * needs; missing ones fail validation. */
  readonly requiredParameters: readonly string[];
  /** The same per action (DEBIT, CREDIT2CARD, CARD2CARD, …); absent means `requiredParameters`
   * for SALE and none for the other actions. */
  requiredParametersFor?(action: string): readonly string[];
  /** The request actions whose money this connector moves through `authorize` (SALE, AUTH and
   * the payouts/transfers DEBIT, CREDIT2CARD, CARD2CARD where the bank offers them); absent
   * means all of them (the test engine). */
  readonly actions?: readonly string[];
  /** The acquirer's decline codes and what each becomes: a table, so the guide, the conformance
   * suite and an operator can read it. Absent for a connector whose bank sends texts only. */
  readonly declineCodes?: Readonly<Record<string, DeclineCode>>;
  /** Whether this card may start recurring payments (recurring_init=Y gets a recurring_token);
   * absent means every card may. The test engine allows only the spec's card 01/2025. */
  canInitiateRecurring?(card: CardSummary): boolean;
  /** Which kind of refusal a decline_reason of this connector is; absent, or undefined for a
   * text it does not know, means 'other'. */
  explainDecline?(declineReason: string): DeclineExplanation | undefined;
  /** SALE/AUTH and the payouts (`request.action`): a decision, or a challenge for the
   * cardholder (3-D Secure, payment-provider redirect). */
  authorize(request: AuthorizationRequest): Promise<AuthorizationAnswer>;
  /** 3-D Secure continuation: authorization after the cardholder's 3-D Secure or redirect step. */
  completeChallenge(request: ChallengeCompletion): Promise<Decision>;
  capture(request: FollowUpRequest): Promise<Decision>;
  /** CREDITVOID after settlement: money back to the card (partial amounts allowed). */
  refund(request: FollowUpRequest): Promise<Decision>;
  /** CREDITVOID before settlement: the authorization is released in full. */
  reverse(request: FollowUpRequest): Promise<Decision>;
  /** VOID: cancels the day's capture or sale before the bank settles it. */
  void(request: FollowUpRequest): Promise<Decision>;
  /**
   * Status inquiry: what became of an operation whose outcome was unknown (the call threw or
   * timed out): the bank's decision, or `unknown` if the bank cannot tell yet (it never saw the
   * request, or is still deciding). Absent: the connector cannot ask (the test engine, whose
   * calls never leave the process). The reconciler (workers/reconciler.ts) calls this and then
   * `finishUnknownOperation` (operations/finish-operation.ts). The bank is found by the
   * platform's own ids (`transId`, `operationId`), since the bank's own id may never have come
   * back. Say `notReceived` only when the bank positively answers that it has no such
   * transaction (not for a failed or unreadable inquiry): for an authorization the reconciler
   * then declines it once the original request can no longer arrive (docs/adr/0098).
   */
  inquire?(request: InquiryRequest): Promise<InquiryAnswer>;
  /**
   * 3-D Secure pass-through: the bank runs the cardholder's step on its own pages (its challenge
   * answers carry `redirect`) and decides the outcome itself. Then `completeChallenge` is asked
   * for the bank's decision (its `cardholderPassed` means only "the cardholder came back"), and a
   * challenge past its deadline is not declined by the platform but left unknown for the
   * reconciler: the bank may have approved it.
   */
  readonly challengesAtTheBank?: boolean;
  /** True while the connector refuses calls without trying (its circuit breaker is open):
   * routing passes its MID over for the next one in cascade order (docs/adr/0095). */
  readonly unavailable?: boolean;
  /**
   * The bank's callbacks (its notification of an outcome) to the platform's own endpoint: true
   * when `fields` are signed with this connector's credentials for this payment. A verified
   * callback is a signal only — the platform then asks `inquire` / `completeChallenge` what is
   * true now, so a duplicate or a late, out-of-order callback changes nothing.
   */
  verifyCallback?(fields: Readonly<Record<string, string>>, payment: CallbackPaymentTerms): boolean;
}

/** What a connector verifies a bank callback against: the payment's payer e-mail and card. */
export interface CallbackPaymentTerms {
  payerEmail?: string;
  card: CardSummary;
}

/** A status inquiry's answer: the bank's decision, or `unknown` — with `notReceived` when the
 * bank says it has no record of the transaction at all (it never got the request). */
export type InquiryAnswer = Decision | { outcome: 'unknown'; notReceived?: boolean };

export interface InquiryRequest {
  transId: string;
  /** The sub-transaction asked about: CAPTURE, REFUND, REVERSAL, VOID, SALE, AUTH, … */
  operationId: string;
  operationType: string;
  /** The payment's card (never the PAN) and payer e-mail, for a bank that signs inquiries. */
  card?: CardSummary;
  payerEmail?: string;
  amountMinor: number;
  currency: string;
  nowMs: number;
  /** The payment's other sub-transactions of this type, oldest first (see FollowUpRequest). */
  siblings?: readonly SiblingOperation[];
}
