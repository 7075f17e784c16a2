import { Pool, errors as undiciErrors } from 'undici';
import { formatAmount } from '../domain/money.ts';
import type { Secret } from '../domain/secret.ts';
import { verifyCallback } from '../protocol/callback-signature.ts';
import { cardHashPart, creditToCardHash, orderHash, saleHash, transactionHash } from '../protocol/hash.ts';
import type {
  AcquirerConnector,
  AuthorizationAnswer,
  AuthorizationRequest,
  CallbackPaymentTerms,
  CardSummary,
  ChallengeCompletion,
  Decision,
  FollowUpRequest,
  InquiryAnswer,
  InquiryRequest,
  SiblingOperation,
} from './connector.ts';

/**
 * Kassa as a merchant of another platform of this protocol family (docs/adr/0092). Every request
 * is signed with the upstream's formulas (Appendix A) with the upstream merchant's CLIENT_KEY and
 * PASSWORD. Kassa's trans_id is the upstream's order_id, so a payment whose answer was lost is
 * found again by GET_TRANS_STATUS_BY_ORDER, and follow-ups find the upstream's trans_id the same
 * way: the connector keeps no state of its own.
 */
export interface UpstreamSettings {
  /** The upstream's API base, e.g. https://upstream.example/ (requests go to `${baseUrl}post`). */
  baseUrl: string;
  clientKey: string;
  password: Secret<string>;
  /** TCP (and TLS) connect bound: a request that never connected is known not to have reached the upstream. */
  connectTimeoutMs?: number;
  /** From the request sent to the last byte of the answer: past it the outcome is unknown. */
  answerTimeoutMs?: number;
  /** Sockets kept to the upstream. */
  connections?: number;
  /** Consecutive failures (no connection, timeouts, 5xx) that open the circuit, and for how long. */
  breakerFailureThreshold?: number;
  breakerOpenMs?: number;
  /** The circuit breaker's clock (tests). */
  nowMs?: () => number;
}

/** The upstream's answer is not known: the platform keeps the operation waiting (0010). */
export class UpstreamOutcomeUnknownError extends Error {}

const unreachable = 'Acquirer unreachable';
/** Signed with when the merchant sent no payer e-mail (follow-ups must sign with the same). */
const defaultPayerEmail = 'payer@example.com';
const circuitOpen = 'Acquirer temporarily unavailable';
/** The protocol's "Payment not found." (GET_TRANS_STATUS_BY_ORDER of an order it has no payment of). */
const paymentNotFoundCode = 208001;
/** Kassa's sub-transactions that authorize a payment: the upstream knows them by our order. */
const authorizationTypes: ReadonlySet<string> = new Set(['SALE', 'AUTH', 'DEBIT', 'TRANSFER', 'CREDIT']);

/** A circuit breaker: after `threshold` consecutive failures, calls are refused for `openMs`,
 * then one trial call is let through (half open); its success closes the circuit. */
export class CircuitBreaker {
  #failures = 0;
  #openUntilMs = 0;
  #trialInFlight = false;
  constructor(
    private readonly threshold: number,
    private readonly openMs: number,
    private readonly nowMs: () => number,
  ) {}
  get open(): boolean {
    return this.#failures >= this.threshold && (this.nowMs() < this.#openUntilMs || this.#trialInFlight);
  }
  /** Whether a call may go now (takes the half-open trial if it is the one). */
  allow(): boolean {
    if (this.#failures < this.threshold) return true;
    if (this.nowMs() < this.#openUntilMs || this.#trialInFlight) return false;
    this.#trialInFlight = true;
    return true;
  }
  succeeded(): void {
    this.#failures = 0;
    this.#trialInFlight = false;
  }
  failed(): void {
    this.#failures += 1;
    this.#trialInFlight = false;
    if (this.#failures >= this.threshold) this.#openUntilMs = this.nowMs() + this.openMs;
  }
}

type Answer = Record<string, unknown>;

/** The upstream's REDIRECT answer (3-D Secure or a payment page): the cardholder goes there. */
function challengeOf(answer: Answer): AuthorizationAnswer {
  const url = typeof answer.redirect_url === 'string' ? answer.redirect_url : '';
  if (!/^https?:\/\//.test(url)) throw new UpstreamOutcomeUnknownError('upstream REDIRECT without a redirect_url');
  const params: Record<string, string> = {};
  const given = answer.redirect_params;
  if (given && typeof given === 'object' && !Array.isArray(given)) {
    for (const [name, value] of Object.entries(given)) params[name] = String(value);
  } else if (Array.isArray(given)) {
    for (const entry of given as { name?: unknown; value?: unknown }[]) {
      params[String(entry.name)] = String(entry.value);
    }
  }
  return {
    outcome: 'challenge',
    kind: answer.status === 'REDIRECT' ? 'REDIRECT' : '3DS',
    redirect: { url, method: answer.redirect_method === 'GET' ? 'GET' : 'POST', params },
  };
}

/** Connect failures: the request was never sent. */
function neverSent(error: unknown): boolean {
  const code = (error as { code?: string }).code;
  return (
    error instanceof undiciErrors.ConnectTimeoutError
    || code === 'ECONNREFUSED'
    || code === 'UND_ERR_CONNECT_TIMEOUT'
    || code === 'ENOTFOUND'
    || code === 'EHOSTUNREACH'
  );
}

function cardDigitsOf(card: CardSummary): string {
  return cardHashPart(card.bin, card.lastFour);
}

/** One of GET_TRANS_DETAILS's `transactions`. */
interface UpstreamRow {
  type?: string;
  status?: string;
  amount?: string;
  decline_reason?: string;
}

/**
 * Our follow-up among the upstream's rows of its type (docs/adr/0092, amended): the upstream keeps
 * no reference of ours per refund, so the rows of the payment's other finished ones (`siblings`,
 * as Kassa knows them; amounts as the upstream writes them) are set aside first, and ours is the
 * one row left with our amount. With others of ours of the same amount still waiting, the rows
 * left tell only if every one of them (ours and theirs) has arrived and all ended alike. Anything
 * else — no row, more rows than could be explained — is undefined, i.e. unknown: a wrong match
 * would call a refund that never reached the upstream approved.
 */
export function matchedRow(
  rows: readonly UpstreamRow[], amount: string, siblings: readonly { amount: string; status: string }[],
): UpstreamRow | undefined {
  const remaining = [...rows];
  for (const sibling of siblings) {
    if (sibling.status === 'waiting') continue;
    const index = remaining.findIndex((row) => row.amount === sibling.amount && row.status === sibling.status);
    if (index >= 0) remaining.splice(index, 1);
  }
  const candidates = remaining.filter((row) => row.amount === amount);
  const waitingAlike = siblings.filter((sibling) => sibling.status === 'waiting' && sibling.amount === amount).length;
  if (candidates.length !== waitingAlike + 1) return undefined;
  return candidates.every((row) => row.status === candidates[0].status) ? candidates[0] : undefined;
}

export class UpstreamS2sCardConnector implements AcquirerConnector {
  readonly name = 'upstream-s2s-card';
  readonly sideEffectFree = false;
  readonly requiredParameters: readonly string[] = [];
  readonly actions: readonly string[] = ['SALE', 'DEBIT', 'CREDIT2CARD', 'CARD2CARD'];
  /** 3-D Secure passes through: the upstream's ACS, then back through Kassa (docs/adr/0093). */
  readonly challengesAtTheBank = true;
  readonly breaker: CircuitBreaker;
  readonly #settings: UpstreamSettings;
  readonly #pool: Pool;
  readonly #path: string;
  readonly #answerTimeoutMs: number;

  constructor(settings: UpstreamSettings) {
    this.#settings = settings;
    const url = new URL(settings.baseUrl);
    this.#path = `${url.pathname.replace(/\/$/, '')}/post`;
    this.#answerTimeoutMs = settings.answerTimeoutMs ?? 20_000;
    this.#pool = new Pool(url.origin, {
      connections: settings.connections ?? 16,
      connect: { timeout: settings.connectTimeoutMs ?? 2_000 },
      headersTimeout: this.#answerTimeoutMs,
      bodyTimeout: this.#answerTimeoutMs,
      keepAliveTimeout: 10_000,
    });
    this.breaker = new CircuitBreaker(
      settings.breakerFailureThreshold ?? 5,
      settings.breakerOpenMs ?? 30_000,
      settings.nowMs ?? Date.now,
    );
  }

  /** The circuit is open: routing sends payments to the next MID meanwhile. */
  get unavailable(): boolean {
    return this.breaker.open;
  }

  async close(): Promise<void> {
    await this.#pool.close();
  }

  /**
   * One request. Resolves with the upstream's JSON, or with `refused` when it provably never
   * left (no connection, circuit open); throws UpstreamOutcomeUnknownError when it may have been
   * carried out (timeout after sending, reset, 5xx, an answer that is not JSON).
   */
  async #post(fields: Record<string, string>): Promise<Answer | { refused: string }> {
    if (!this.breaker.allow()) return { refused: circuitOpen };
    let statusCode: number;
    let text: string;
    try {
      const response = await this.#pool.request({
        path: this.#path,
        method: 'POST',
        body: new URLSearchParams(fields).toString(),
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        signal: AbortSignal.timeout(this.#answerTimeoutMs + 1_000),
      });
      statusCode = response.statusCode;
      text = await response.body.text();
    } catch (error) {
      this.breaker.failed();
      if (neverSent(error)) return { refused: unreachable };
      throw new UpstreamOutcomeUnknownError(`upstream ${fields.action}: ${(error as Error).message}`);
    }
    if (statusCode >= 500) {
      this.breaker.failed();
      throw new UpstreamOutcomeUnknownError(`upstream ${fields.action}: HTTP ${statusCode}`);
    }
    this.breaker.succeeded();
    try {
      const parsed = JSON.parse(text) as unknown;
      if (parsed && typeof parsed === 'object' && typeof (parsed as Answer).result === 'string')
        return parsed as Answer;
    } catch {
      // fall through: not the protocol
    }
    throw new UpstreamOutcomeUnknownError(
      `upstream ${fields.action}: HTTP ${statusCode}, an answer that is not the protocol`,
    );
  }

  /** The upstream's answer as a decision; anything that is not final is unknown. */
  #decision(answer: Answer | { refused: string }, approvedStatuses: readonly string[]): Decision {
    if ('refused' in answer) return { outcome: 'declined', declineReason: answer.refused as string };
    const result = String(answer.result);
    const status = String(answer.status ?? '');
    if (result === 'SUCCESS' && approvedStatuses.includes(status)) {
      return typeof answer.descriptor === 'string' && answer.descriptor
        ? { outcome: 'approved', descriptor: answer.descriptor }
        : { outcome: 'approved' };
    }
    if (result === 'DECLINED')
      return { outcome: 'declined', declineReason: String(answer.decline_reason ?? 'Declined') };
    // ERROR is a refusal of the request itself (validation, authentication): nothing was done.
    if (result === 'ERROR') {
      return {
        outcome: 'declined',
        declineReason: `Declined by the acquirer: ${String(answer.error_message ?? 'error')}`,
      };
    }
    throw new UpstreamOutcomeUnknownError(`upstream answered ${result}/${status}: not final`);
  }

  #email(email: string | undefined): string {
    return email ?? defaultPayerEmail;
  }

  async authorize(request: AuthorizationRequest): Promise<AuthorizationAnswer> {
    const action = request.action ?? 'SALE';
    if (!this.actions.includes(action)) {
      // Never sent: the upstream is not asked for what this connector does not forward.
      return { outcome: 'declined', declineReason: `Declined by the acquirer: ${action} is not offered` };
    }
    const fields = this.#authorizationFields(action, request);
    if (action === 'SALE' && !request.capture) fields.auth = 'Y';
    const answer = await this.#post(fields);
    if (!('refused' in answer) && answer.result === 'REDIRECT') return challengeOf(answer);
    return this.#decision(answer, request.capture ? ['SETTLED'] : ['PENDING']);
  }

  /**
   * The upstream request for SALE/AUTH, DEBIT, CARD2CARD or CREDIT2CARD, each with its own field
   * names and formula (Formula 1 over the payer's card; Formula 5 for CREDIT2CARD). The payer's
   * e-mail is signed only when the merchant sent one (a SALE always has one), so later inquiries
   * signed with the payment's stored e-mail agree with it.
   */
  #authorizationFields(action: string, request: AuthorizationRequest): Record<string, string> {
    const pan = request.card.number.reveal();
    const payer = { ...request.payer };
    const email = payer.payer_email ?? (action === 'SALE' ? defaultPayerEmail : '');
    if (email) payer.payer_email = email;
    const password = this.#settings.password.reveal();
    const common: Record<string, string> = {
      ...payer,
      ...request.payee,
      action,
      client_key: this.#settings.clientKey,
      order_id: request.transId,
      order_amount: formatAmount(request.amountMinor, request.currency),
      order_currency: request.currency,
      order_description: 'Payment',
    };
    if (action === 'CREDIT2CARD') {
      return { ...common, card_number: pan, hash: creditToCardHash(password, cardHashPart(pan)) };
    }
    const card = {
      number: pan,
      exp_month: String(request.card.expiryMonth).padStart(2, '0'),
      exp_year: String(request.card.expiryYear),
      cvv2: request.card.cvv.reveal(),
    };
    // CARD2CARD names the payer's card payer_card_*; the others card_*.
    const prefix = action === 'CARD2CARD' ? 'payer_card_' : 'card_';
    const cardFields = Object.fromEntries(Object.entries(card).map(([name, value]) => [`${prefix}${name}`, value]));
    const fields: Record<string, string> = {
      ...common,
      ...cardFields,
      payer_ip: payer.payer_ip ?? '127.0.0.1',
      // Pass-through: the upstream sends the cardholder back to Kassa, which goes on to the merchant.
      term_url_3ds: request.returnUrl ?? payer.term_url_3ds ?? 'https://localhost/3ds-return',
      hash: saleHash({ email, password, cardDigits: cardHashPart(pan) }),
    };
    if (action === 'CARD2CARD') fields.payee_card_number = request.payeeCardNumber?.reveal() ?? '';
    return fields;
  }

  /** Pass-through: the upstream ran the cardholder's step and decided; its word, by our order. */
  async completeChallenge(request: ChallengeCompletion): Promise<Decision> {
    const { transId, card } = request;
    const pan = card.number.reveal();
    const decision = await this.inquire({
      transId,
      operationId: transId,
      operationType: request.capture ? 'SALE' : 'AUTH',
      card: {
        bin: pan.slice(0, 6), lastFour: pan.slice(-4), expiryMonth: card.expiryMonth, expiryYear: card.expiryYear,
      },
      payerEmail: request.payerEmail,
      amountMinor: request.amountMinor,
      currency: request.currency,
      nowMs: request.nowMs,
    });
    if (decision.outcome === 'unknown') throw new UpstreamOutcomeUnknownError('upstream has no final decision yet');
    return decision;
  }

  /** The upstream's trans_id of one of our payments (our trans_id is its order_id). */
  async #upstreamTransId(transId: string, card: CardSummary, email: string): Promise<string | { refused: string }> {
    const answer = await this.#post({
      action: 'GET_TRANS_STATUS_BY_ORDER',
      client_key: this.#settings.clientKey,
      order_id: transId,
      hash: orderHash({ email, password: this.#settings.password.reveal(), cardDigits: cardDigitsOf(card) }, transId),
    });
    if ('refused' in answer) return { refused: String(answer.refused) };
    if (typeof answer.trans_id !== 'string') {
      throw new UpstreamOutcomeUnknownError(`upstream has no payment for order ${transId}`);
    }
    return answer.trans_id;
  }

  async #followUp(
    action: string,
    request: FollowUpRequest,
    extra: Record<string, string>,
  ): Promise<Answer | { refused: string }> {
    const email = this.#email(request.payerEmail);
    const upstreamId = await this.#upstreamTransId(request.transId, request.card, email);
    if (typeof upstreamId !== 'string') return upstreamId;
    return this.#post({
      action,
      client_key: this.#settings.clientKey,
      trans_id: upstreamId,
      ...extra,
      hash: transactionHash(
        { email, password: this.#settings.password.reveal(), cardDigits: cardDigitsOf(request.card) },
        upstreamId,
      ),
    });
  }

  async capture(request: FollowUpRequest): Promise<Decision> {
    const answer = await this.#followUp('CAPTURE', request, {
      amount: formatAmount(request.amountMinor, request.currency),
    });
    return this.#decision(answer, ['SETTLED']);
  }

  async void(request: FollowUpRequest): Promise<Decision> {
    return this.#decision(await this.#followUp('VOID', request, {}), ['VOID']);
  }

  async refund(request: FollowUpRequest): Promise<Decision> {
    return this.#creditvoid(request, 'REFUND');
  }

  async reverse(request: FollowUpRequest): Promise<Decision> {
    return this.#creditvoid(request, 'REVERSAL');
  }

  /** CREDITVOID answers ACCEPTED; its outcome is the upstream's sub-transaction of the kind that
   * is ours (see matchedRow). */
  async #creditvoid(request: FollowUpRequest, type: string): Promise<Decision> {
    const answer = await this.#followUp('CREDITVOID', request, {
      amount: formatAmount(request.amountMinor, request.currency),
    });
    if ('refused' in answer || answer.result !== 'ACCEPTED') return this.#decision(answer, []);
    const decision = await this.#operationAtUpstream(request, type);
    if (decision.outcome === 'unknown') throw new UpstreamOutcomeUnknownError(`upstream ${type} not final yet`);
    return decision;
  }

  async #operationAtUpstream(
    request: {
      transId: string; card: CardSummary; payerEmail?: string; amountMinor: number; currency: string;
      siblings?: readonly SiblingOperation[];
    },
    type: string,
  ): Promise<Decision | { outcome: 'unknown' }> {
    const { transId, card } = request;
    const email = this.#email(request.payerEmail);
    const upstreamId = await this.#upstreamTransId(transId, card, email);
    if (typeof upstreamId !== 'string') return { outcome: 'unknown' };
    const details = await this.#post({
      action: 'GET_TRANS_DETAILS',
      client_key: this.#settings.clientKey,
      trans_id: upstreamId,
      hash: transactionHash(
        { email, password: this.#settings.password.reveal(), cardDigits: cardDigitsOf(card) },
        upstreamId,
      ),
    });
    if ('refused' in details || !Array.isArray(details.transactions)) return { outcome: 'unknown' };
    const rows = (details.transactions as UpstreamRow[]).filter((row) => row.type === type);
    const amountText = (amountMinor: number) => formatAmount(amountMinor, request.currency);
    const ours = matchedRow(rows, amountText(request.amountMinor), (request.siblings ?? []).map((sibling) => ({
      amount: amountText(sibling.amountMinor), status: sibling.status,
    })));
    if (ours?.status === 'success') return { outcome: 'approved' };
    if (ours?.status === 'fail') return { outcome: 'declined', declineReason: ours.decline_reason ?? 'Declined' };
    return { outcome: 'unknown' };
  }

  /** The upstream's callback is signed (Formula 2, its trans_id) with our credentials there and
   * the payment's e-mail and card; only then is it worth asking the upstream what changed. */
  verifyCallback(fields: Readonly<Record<string, string>>, payment: CallbackPaymentTerms): boolean {
    return verifyCallback(fields, {
      password: this.#settings.password.reveal(),
      email: this.#email(payment.payerEmail),
      card: cardDigitsOf(payment.card),
    });
  }

  /** Status inquiry: an authorization (SALE, AUTH, DEBIT, a transfer or payout) by its order
   * (our trans_id), a follow-up by the payment's latest sub-transaction of its type. The
   * upstream's "Payment not found" (208001) for our order is `notReceived`: it never got the
   * request (docs/adr/0098). */
  async inquire(request: InquiryRequest): Promise<InquiryAnswer> {
    const card = request.card;
    if (!card) return { outcome: 'unknown' };
    if (!authorizationTypes.has(request.operationType)) {
      return this.#operationAtUpstream({ ...request, card }, request.operationType);
    }
    const email = this.#email(request.payerEmail);
    const answer = await this.#post({
      action: 'GET_TRANS_STATUS_BY_ORDER',
      client_key: this.#settings.clientKey,
      order_id: request.transId,
      hash: orderHash(
        { email, password: this.#settings.password.reveal(), cardDigits: cardDigitsOf(card) },
        request.transId,
      ),
    });
    if (!('refused' in answer) && answer.result === 'ERROR' && Number(answer.error_code) === paymentNotFoundCode)
      return { outcome: 'unknown', notReceived: true };
    if ('refused' in answer || answer.result !== 'SUCCESS') return { outcome: 'unknown' };
    const status = String(answer.status);
    if (status === 'DECLINED')
      return { outcome: 'declined', declineReason: String(answer.decline_reason ?? 'Declined') };
    if (['SETTLED', 'PENDING', 'REFUND', 'REVERSAL', 'VOID', 'CHARGEBACK'].includes(status))
      return { outcome: 'approved' };
    return { outcome: 'unknown' };
  }
}
