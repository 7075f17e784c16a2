import { Pool, errors as undiciErrors } from 'undici';
import { formatAmount } from '../domain/money.ts';
import type { Secret } from '../domain/secret.ts';
import { cardHashPart, orderHash, saleHash, transactionHash } from '../protocol/hash.ts';
import type {
  AcquirerConnector,
  AuthorizationAnswer,
  AuthorizationRequest,
  CardSummary,
  ChallengeCompletion,
  Decision,
  FollowUpRequest,
  InquiryRequest,
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

export class UpstreamS2sCardConnector implements AcquirerConnector {
  readonly name = 'upstream-s2s-card';
  readonly sideEffectFree = false;
  readonly requiredParameters: readonly string[] = [];
  readonly actions: readonly string[] = ['SALE'];
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
    const pan = request.card.number.reveal();
    const payer = request.payer ?? {};
    const email = payer.payer_email ?? defaultPayerEmail;
    const fields: Record<string, string> = {
      ...payer,
      action: 'SALE',
      client_key: this.#settings.clientKey,
      order_id: request.transId,
      order_amount: formatAmount(request.amountMinor, request.currency),
      order_currency: request.currency,
      order_description: 'Payment',
      card_number: pan,
      card_exp_month: String(request.card.expiryMonth).padStart(2, '0'),
      card_exp_year: String(request.card.expiryYear),
      card_cvv2: request.card.cvv.reveal(),
      payer_email: email,
      payer_ip: payer.payer_ip ?? '127.0.0.1',
      term_url_3ds: payer.term_url_3ds ?? 'https://localhost/3ds-return',
      hash: saleHash({ email, password: this.#settings.password.reveal(), cardDigits: cardHashPart(pan) }),
    };
    if (!request.capture) fields.auth = 'Y';
    const answer = await this.#post(fields);
    if (!('refused' in answer) && answer.result === 'REDIRECT') {
      // 3-D Secure pass-through is not built yet (docs/connectors.md): the upstream's challenge
      // expires and declines; the reconciler finds that out.
      throw new UpstreamOutcomeUnknownError('upstream asked for 3-D Secure: pass-through not supported yet');
    }
    return this.#decision(answer, request.capture ? ['SETTLED'] : ['PENDING']);
  }

  async completeChallenge(_request: ChallengeCompletion): Promise<Decision> {
    throw new UpstreamOutcomeUnknownError('3-D Secure pass-through not supported yet');
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

  /** CREDITVOID answers ACCEPTED; its outcome is the upstream's latest sub-transaction of the kind. */
  async #creditvoid(request: FollowUpRequest, type: string): Promise<Decision> {
    const answer = await this.#followUp('CREDITVOID', request, {
      amount: formatAmount(request.amountMinor, request.currency),
    });
    if ('refused' in answer || answer.result !== 'ACCEPTED') return this.#decision(answer, []);
    const decision = await this.#latestOperation(request.transId, request.card, request.payerEmail, type);
    if (decision.outcome === 'unknown') throw new UpstreamOutcomeUnknownError(`upstream ${type} not final yet`);
    return decision;
  }

  async #latestOperation(
    transId: string,
    card: CardSummary,
    payerEmail: string | undefined,
    type: string,
  ): Promise<Decision | { outcome: 'unknown' }> {
    const email = this.#email(payerEmail);
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
    const rows = (details.transactions as { type?: string; status?: string; decline_reason?: string }[]).filter(
      (row) => row.type === type,
    );
    const latest = rows.at(-1);
    if (latest?.status === 'success') return { outcome: 'approved' };
    if (latest?.status === 'fail') return { outcome: 'declined', declineReason: latest.decline_reason ?? 'Declined' };
    return { outcome: 'unknown' };
  }

  /** Status inquiry: the payment by its order (our trans_id), or its latest follow-up of the type. */
  async inquire(request: InquiryRequest): Promise<Decision | { outcome: 'unknown' }> {
    const card = request.card;
    if (!card) return { outcome: 'unknown' };
    if (request.operationType !== 'SALE' && request.operationType !== 'AUTH') {
      return this.#latestOperation(request.transId, card, request.payerEmail, request.operationType);
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
    if ('refused' in answer || answer.result !== 'SUCCESS') return { outcome: 'unknown' };
    const status = String(answer.status);
    if (status === 'DECLINED')
      return { outcome: 'declined', declineReason: String(answer.decline_reason ?? 'Declined') };
    if (['SETTLED', 'PENDING', 'REFUND', 'REVERSAL', 'VOID', 'CHARGEBACK'].includes(status))
      return { outcome: 'approved' };
    return { outcome: 'unknown' };
  }
}
