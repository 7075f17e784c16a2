import type {
  AnyAnswer,
  CheckoutAnswer,
  CreditvoidAnswer,
  DetailsAnswer,
  PaymentAnswer,
  ScheduleAnswer,
  StatusAnswer,
} from './answers.ts';
import {
  cardHashPart,
  checkoutHash,
  createScheduleHash,
  creditToCardHash,
  creditToCardTransactionHash,
  orderHash,
  saleHash,
  saleTokenHash,
  scheduleHash,
  transactionHash,
  type HashDigest,
} from './hash.ts';
import type {
  CaptureRequest,
  CardToCardRequest,
  CheckoutRequest,
  CreateScheduleRequest,
  CreditToCardRequest,
  CreditvoidRequest,
  DebitRequest,
  DescheduleRequest,
  OrderQuery,
  RecurringSaleRequest,
  RetryRequest,
  SaleRequest,
  ScheduleRequest,
  TokenCreditToCardRequest,
  TokenSaleRequest,
  TransactionQuery,
  VoidRequest,
} from './request-fields.ts';

export interface KassaClientOptions {
  /** The API endpoint exactly as requests are posted to it, e.g. `http://127.0.0.1:8080/post`. */
  url: string;
  clientKey: string;
  /** The merchant's PASSWORD: it signs requests and never leaves this process. */
  password: string;
  /** Per request; the platform answers within its own 30 s acquirer bound. Default 60 s. */
  timeoutMs?: number;
  /** For tests or a proxy; the global fetch by default. */
  fetch?: typeof fetch;
  /** `sha256` for a merchant whose hash mode is SHA-256 (5.6.x); md5 by default. */
  hashDigest?: HashDigest;
}

/**
 * What Formula 2, 6 and 7 sign besides the PASSWORD: the e-mail and card of the original payment
 * (the full number, first 6 + last 4, or the mask `411111******1111` from a callback).
 */
export interface PaymentKey {
  email?: string;
  card: string;
  /** A CREDIT2CARD payment is signed by Formula 6 (no e-mail). */
  creditToCard?: boolean;
}

type FormValue = string | Record<string, string> | undefined;

/** Form encoding as PHP reads it: `parameters[name]=value` for one level of nesting. */
export function encodeForm(fields: Record<string, FormValue>): string {
  const form = new URLSearchParams();
  for (const [name, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    if (typeof value === 'string') form.append(name, value);
    else for (const [key, inner] of Object.entries(value)) form.append(`${name}[${key}]`, inner);
  }
  return form.toString();
}

function cardDigitsOf(card: string): string {
  const compact = card.replace(/\s+/g, '');
  return /^\d{10}$/.test(compact) ? compact : cardHashPart(compact);
}

function transactionSignature(password: string, transId: string, payment: PaymentKey, digest?: HashDigest): string {
  const cardDigits = cardDigitsOf(payment.card);
  if (payment.creditToCard) return creditToCardTransactionHash(password, transId, cardDigits, digest);
  return transactionHash({ email: payment.email, password, cardDigits }, transId, digest);
}

/**
 * A client for every action of the API, with each request's hash computed by the same functions
 * the server checks it with. Answers are the server's JSON, typed; an ERROR answer is returned,
 * not thrown (it is the protocol's answer). A transport failure (no answer) throws, and the
 * outcome of a payment is then unknown: ask GET_TRANS_STATUS_BY_ORDER before retrying.
 */
export class KassaClient {
  readonly #options: KassaClientOptions;

  constructor(options: KassaClientOptions) {
    if (!/^https?:\/\//.test(options.url)) throw new TypeError('KassaClient: url must be an http(s) URL');
    this.#options = options;
  }

  /** Posts any action's fields as they are (client_key added; nothing signed). */
  async post<Answer = AnyAnswer>(action: string, fields: Record<string, FormValue>): Promise<Answer> {
    const fetcher = this.#options.fetch ?? fetch;
    const response = await fetcher(this.#options.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: encodeForm({ action, client_key: this.#options.clientKey, ...fields }),
      signal: AbortSignal.timeout(this.#options.timeoutMs ?? 60_000),
    });
    const text = await response.text();
    try {
      return JSON.parse(text) as Answer;
    } catch {
      throw new Error(`Kassa answered HTTP ${response.status} without JSON: ${text.slice(0, 200)}`);
    }
  }

  get #password(): string {
    return this.#options.password;
  }

  get #digest(): HashDigest | undefined {
    return this.#options.hashDigest;
  }

  /** SALE (`auth: 'Y'` for an authorization to capture later). Formula 1. */
  sale(request: SaleRequest | TokenSaleRequest): Promise<PaymentAnswer> {
    const { card_number: cardNumber, card_token: cardToken, payer_email: email } = request as Partial<TokenSaleRequest>;
    const hash =
      !cardNumber && cardToken
        ? saleTokenHash(email, this.#password, cardToken, this.#digest)
        : saleHash({ email, password: this.#password, cardDigits: cardHashPart(cardNumber ?? '') }, this.#digest);
    return this.post('SALE', { ...request, hash });
  }

  /** CAPTURE of an authorization (all of it, or `amount`). Formula 2. */
  capture(request: CaptureRequest, payment: PaymentKey): Promise<PaymentAnswer> {
    return this.#onPayment('CAPTURE', request, payment);
  }

  /** CREDITVOID: a refund or reversal, answered ACCEPTED; the result comes by callback. */
  creditvoid(request: CreditvoidRequest, payment: PaymentKey): Promise<CreditvoidAnswer> {
    return this.#onPayment('CREDITVOID', request, payment);
  }

  void(request: VoidRequest, payment: PaymentKey): Promise<PaymentAnswer> {
    return this.#onPayment('VOID', request, payment);
  }

  getTransStatus(request: TransactionQuery, payment: PaymentKey): Promise<StatusAnswer> {
    return this.#onPayment('GET_TRANS_STATUS', request, payment);
  }

  getTransDetails(request: TransactionQuery, payment: PaymentKey): Promise<DetailsAnswer> {
    return this.#onPayment('GET_TRANS_DETAILS', request, payment);
  }

  /** Formula 7: the e-mail and card of the order's payment. */
  getTransStatusByOrder(request: OrderQuery, payment: PaymentKey): Promise<StatusAnswer> {
    const cardDigits = cardDigitsOf(payment.card);
    const hash = orderHash(
      { email: payment.email, password: this.#password, cardDigits },
      request.order_id,
      this.#digest,
    );
    return this.post('GET_TRANS_STATUS_BY_ORDER', { ...request, hash });
  }

  /** Kassa's hosted payment page: send the cardholder to `redirect_url`. */
  createCheckout(request: CheckoutRequest): Promise<CheckoutAnswer> {
    const hash = checkoutHash(request.payer_email, this.#password, request.order_id, this.#digest);
    return this.post('CREATE_CHECKOUT', { ...request, hash });
  }

  /** RECURRING_SALE: Formula 1 with the e-mail and card of the first payment. */
  recurringSale(request: RecurringSaleRequest, firstPayment: PaymentKey): Promise<PaymentAnswer> {
    const cardDigits = cardDigitsOf(firstPayment.card);
    const hash = saleHash({ email: firstPayment.email, password: this.#password, cardDigits }, this.#digest);
    return this.post('RECURRING_SALE', { ...request, hash });
  }

  /** RETRY (5.6.x): charges a declined RECURRING_SALE again; Formula 2 with its e-mail and card.
   * The answer is a new RECURRING_SALE payment (its own trans_id), also in callbacks. */
  retry(request: RetryRequest, payment: PaymentKey): Promise<PaymentAnswer> {
    const hash = transactionSignature(this.#password, request.trans_id, payment, this.#digest);
    return this.post('RETRY', { ...request, hash });
  }

  createSchedule(request: CreateScheduleRequest): Promise<ScheduleAnswer> {
    return this.post('CREATE_SCHEDULE', { ...request, hash: createScheduleHash(this.#password, this.#digest) });
  }

  pauseSchedule(request: ScheduleRequest): Promise<ScheduleAnswer> {
    return this.#schedule('PAUSE_SCHEDULE', request);
  }

  runSchedule(request: ScheduleRequest): Promise<ScheduleAnswer> {
    return this.#schedule('RUN_SCHEDULE', request);
  }

  deleteSchedule(request: ScheduleRequest): Promise<ScheduleAnswer> {
    return this.#schedule('DELETE_SCHEDULE', request);
  }

  scheduleInfo(request: ScheduleRequest): Promise<ScheduleAnswer> {
    return this.#schedule('SCHEDULE_INFO', request);
  }

  deschedule(request: DescheduleRequest): Promise<ScheduleAnswer> {
    return this.#schedule('DESCHEDULE', request);
  }

  #onPayment<Answer>(action: string, request: { trans_id: string }, payment: PaymentKey): Promise<Answer> {
    return this.post(action, {
      ...request,
      hash: transactionSignature(this.#password, request.trans_id, payment, this.#digest),
    });
  }

  #schedule(action: string, request: { schedule_id: string }): Promise<ScheduleAnswer> {
    return this.post(action, { ...request, hash: scheduleHash(request.schedule_id, this.#password, this.#digest) });
  }

  /** DEBIT: Formula 1. */
  debit(request: DebitRequest): Promise<PaymentAnswer> {
    const cardDigits = cardHashPart(request.card_number);
    const hash = saleHash({ email: request.payer_email, password: this.#password, cardDigits }, this.#digest);
    return this.post('DEBIT', { ...request, hash });
  }

  /** CREDIT2CARD: Formula 5 over the payee card (or its token). */
  creditToCard(request: CreditToCardRequest | TokenCreditToCardRequest): Promise<PaymentAnswer> {
    const { card_number: cardNumber, card_token: cardToken } = request as Partial<TokenCreditToCardRequest>;
    const signed = !cardNumber && cardToken ? cardToken : cardHashPart(cardNumber ?? '');
    return this.post('CREDIT2CARD', { ...request, hash: creditToCardHash(this.#password, signed, this.#digest) });
  }

  /** CARD2CARD: Formula 1 over the payer's card. */
  cardToCard(request: CardToCardRequest): Promise<PaymentAnswer> {
    const cardDigits = cardHashPart(request.payer_card_number);
    const hash = saleHash({ email: request.payer_email, password: this.#password, cardDigits }, this.#digest);
    return this.post('CARD2CARD', { ...request, hash });
  }
}
