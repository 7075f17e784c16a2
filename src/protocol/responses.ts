import { formatAmount } from '../domain/money.ts';

/**
 * Response and callback bodies, field for field and in the order of the spec's tables. Pure:
 * operations hand in facts, this decides the shape.
 */
export interface PaymentFacts {
  action: string;
  orderId: string;
  transId: string;
  status: string;
  amountMinor: number;
  currency: string;
  descriptor: string;
  declineReason: string | null;
  /** `411111******1111` */
  cardMask: string;
  /** `MM/YYYY` */
  cardExpiry: string;
  transDate: string;
  /** Only for a successful payment made with recurring_init=Y (the spec's condition). */
  recurringToken?: string | null;
  /** The schedule the payment is bound to or was charged for. */
  scheduleId?: string | null;
  /** Only for a successful payment made with req_token=Y. */
  cardToken?: string | null;
  /** The payment was converted (ADR 0054): the rates and the original currency and amount. */
  exchange?: { rate: string; rateBase: string | null; currency: string; amountMinor: number } | null;
}

/** The spec's exchange_* fields, "if the currency exchange has been applied for the payment". */
function exchangeFields(facts: PaymentFacts): Body {
  const { exchange } = facts;
  if (!exchange) return {};
  return {
    exchange_rate: exchange.rate,
    ...(exchange.rateBase ? { exchange_rate_base: exchange.rateBase } : {}),
    exchange_currency: exchange.currency,
    exchange_amount: formatAmount(exchange.amountMinor, exchange.currency),
  };
}

/** recurring_token, schedule_id and card_token, in the spec's order, each only when present. */
function recurringFields(facts: PaymentFacts): Body {
  const body: Body = {};
  if (facts.recurringToken) body.recurring_token = facts.recurringToken;
  if (facts.scheduleId) body.schedule_id = facts.scheduleId;
  if (facts.cardToken) body.card_token = facts.cardToken;
  return body;
}

type Body = Record<string, unknown>;

function amountOf(facts: PaymentFacts, amountMinor = facts.amountMinor): string {
  return formatAmount(amountMinor, facts.currency);
}

/** Where the merchant must send the cardholder (3-D Secure or a payment provider page). */
export interface RedirectFacts {
  url: string;
  method: 'POST' | 'GET';
  params: Record<string, string>;
}

/** The spec: redirect_params is an object, or `[]` when there are none. The `/v2/post`
 * endpoint turns objects into `[{name, value}]` lists (see http/api.ts). */
function redirectParams(redirect: RedirectFacts): Record<string, string> | [] {
  return Object.keys(redirect.params).length > 0 ? redirect.params : [];
}

/** SALE / RECURRING_SALE answer: SUCCESS with PENDING/PREPARE/SETTLED, DECLINED, or REDIRECT
 * with status 3DS/REDIRECT. */
export function saleResponse(facts: PaymentFacts, redirect?: RedirectFacts): Body {
  if (redirect && (facts.status === '3DS' || facts.status === 'REDIRECT')) {
    return {
      action: facts.action, result: 'REDIRECT', status: facts.status, order_id: facts.orderId, trans_id: facts.transId,
      trans_date: facts.transDate, descriptor: facts.descriptor, amount: amountOf(facts), currency: facts.currency,
      redirect_url: redirect.url, redirect_params: redirectParams(redirect), redirect_method: redirect.method,
    };
  }
  if (facts.status === 'DECLINED') {
    return {
      action: facts.action, result: 'DECLINED', status: 'DECLINED', order_id: facts.orderId, trans_id: facts.transId,
      trans_date: facts.transDate, descriptor: facts.descriptor, amount: amountOf(facts), currency: facts.currency,
      decline_reason: facts.declineReason ?? '',
    };
  }
  return {
    action: facts.action, result: 'SUCCESS', status: facts.status, order_id: facts.orderId, trans_id: facts.transId,
    trans_date: facts.transDate, descriptor: facts.descriptor, ...recurringFields(facts), amount: amountOf(facts), currency: facts.currency,
    ...exchangeFields(facts),
  };
}

/** SALE callback fields (hash added when sending); `card` and `card_expiration_date` as live
 * platforms send them. */
export function saleCallback(facts: PaymentFacts, redirect?: RedirectFacts): Body {
  if (redirect && (facts.status === '3DS' || facts.status === 'REDIRECT')) {
    return {
      action: facts.action, result: 'REDIRECT', status: facts.status, order_id: facts.orderId, trans_id: facts.transId,
      trans_date: facts.transDate, descriptor: facts.descriptor, amount: amountOf(facts), currency: facts.currency,
      redirect_url: redirect.url, redirect_params: redirectParams(redirect), redirect_method: redirect.method,
      card: facts.cardMask, card_expiration_date: facts.cardExpiry,
    };
  }
  if (facts.status === 'DECLINED') {
    return {
      action: facts.action, result: 'DECLINED', status: 'DECLINED', order_id: facts.orderId, trans_id: facts.transId,
      trans_date: facts.transDate, decline_reason: facts.declineReason ?? '',
      card: facts.cardMask, card_expiration_date: facts.cardExpiry,
    };
  }
  return {
    action: facts.action, result: 'SUCCESS', status: facts.status, order_id: facts.orderId, trans_id: facts.transId,
    ...recurringFields(facts), card: facts.cardMask, card_expiration_date: facts.cardExpiry, trans_date: facts.transDate,
    descriptor: facts.descriptor, amount: amountOf(facts), currency: facts.currency, ...exchangeFields(facts),
  };
}

/** DEBIT callback: as SALE's, except that a declined DEBIT also reports descriptor, amount and
 * currency (the spec's DEBIT table lists them). */
export function debitCallback(facts: PaymentFacts, redirect?: RedirectFacts): Body {
  if (facts.status !== 'DECLINED') return saleCallback(facts, redirect);
  return {
    action: facts.action, result: 'DECLINED', status: 'DECLINED', order_id: facts.orderId, trans_id: facts.transId,
    trans_date: facts.transDate, descriptor: facts.descriptor, amount: amountOf(facts), currency: facts.currency,
    decline_reason: facts.declineReason ?? '', card: facts.cardMask, card_expiration_date: facts.cardExpiry,
  };
}

/** CREDIT2CARD answer: SUCCESS/SETTLED with descriptor, or DECLINED with decline_reason; no
 * amount or currency (the spec's tables have none). PREPARE when the bank's answer is unknown. */
export function creditToCardResponse(facts: PaymentFacts): Body {
  if (facts.status === 'DECLINED') {
    return {
      action: 'CREDIT2CARD', result: 'DECLINED', status: 'DECLINED', order_id: facts.orderId, trans_id: facts.transId,
      trans_date: facts.transDate, decline_reason: facts.declineReason ?? '',
    };
  }
  return {
    action: 'CREDIT2CARD', result: 'SUCCESS', status: facts.status, order_id: facts.orderId, trans_id: facts.transId,
    trans_date: facts.transDate, descriptor: facts.descriptor,
  };
}

/** CREDIT2CARD callback (Formula 6 added when sending). The spec's declined table says
 * `action: SALE`, a slip: the example and every other table say CREDIT2CARD. `card` is added as
 * live platforms do, so merchant-side verification finds the digits Formula 6 needs. */
export function creditToCardCallback(facts: PaymentFacts): Body {
  const body: Body = {
    action: 'CREDIT2CARD', result: facts.status === 'DECLINED' ? 'DECLINED' : 'SUCCESS', status: facts.status,
    order_id: facts.orderId, trans_id: facts.transId, trans_date: facts.transDate,
  };
  if (facts.status === 'DECLINED') body.decline_reason = facts.declineReason ?? '';
  body.card = facts.cardMask;
  return body;
}

/** The callback for a payment's final or challenge state, by the action that created it. */
export function paymentCallback(facts: PaymentFacts, redirect?: RedirectFacts): Body {
  if (facts.action === 'DEBIT') return debitCallback(facts, redirect);
  if (facts.action === 'CREDIT2CARD') return creditToCardCallback(facts);
  return saleCallback(facts, redirect);
}

export function captureResponse(facts: PaymentFacts, captureMinor: number, approved: boolean, declineReason?: string): Body {
  const common = {
    action: 'CAPTURE', result: approved ? 'SUCCESS' : 'DECLINED', status: approved ? 'SETTLED' : 'PENDING',
  };
  if (approved) {
    return {
      ...common, amount: amountOf(facts, captureMinor), order_id: facts.orderId, trans_id: facts.transId,
      trans_date: facts.transDate, descriptor: facts.descriptor, currency: facts.currency,
    };
  }
  return {
    ...common, order_id: facts.orderId, trans_id: facts.transId, trans_date: facts.transDate,
    descriptor: facts.descriptor, amount: amountOf(facts, captureMinor), currency: facts.currency,
    decline_reason: declineReason ?? '',
  };
}

export function captureCallback(facts: PaymentFacts, captureMinor: number, approved: boolean, declineReason?: string): Body {
  if (approved) {
    return {
      action: 'CAPTURE', result: 'SUCCESS', status: 'SETTLED', order_id: facts.orderId, trans_id: facts.transId,
      amount: amountOf(facts, captureMinor), trans_date: facts.transDate, descriptor: facts.descriptor, currency: facts.currency,
      card: facts.cardMask, card_expiration_date: facts.cardExpiry,
    };
  }
  return {
    action: 'CAPTURE', result: 'DECLINED', status: 'PENDING', order_id: facts.orderId, trans_id: facts.transId,
    decline_reason: declineReason ?? '', card: facts.cardMask, card_expiration_date: facts.cardExpiry,
  };
}

/**
 * The acquirer's answer to a CAPTURE or VOID is not known (it failed or timed out): result
 * `UNDEFINED`, as the protocol's 5.6.x documents name an unknown outcome, with the 5.2.0 status
 * `PREPARE` ("status is undetermined, final status will be sent in callback"). Never DECLINED:
 * the money may have moved. See docs/adr/0010-unknown-outcomes.md.
 */
export const unknownOutcomeResult = 'UNDEFINED';

export function captureUnknownResponse(facts: PaymentFacts, captureMinor: number): Body {
  return {
    action: 'CAPTURE', result: unknownOutcomeResult, status: 'PREPARE', order_id: facts.orderId,
    trans_id: facts.transId, trans_date: facts.transDate, descriptor: facts.descriptor,
    amount: amountOf(facts, captureMinor), currency: facts.currency,
  };
}

export function voidUnknownResponse(facts: PaymentFacts): Body {
  return {
    action: 'VOID', result: unknownOutcomeResult, status: 'PREPARE', order_id: facts.orderId, trans_id: facts.transId,
    trans_date: facts.transDate,
  };
}

/**
 * The callback of an operation whose outcome is still unknown past the reconciler's deadline and
 * now in front of an operator (docs/adr/0096): result `UNDEFINED` (5.6.x), status `PREPARE`
 * (5.2.0: "final status will be sent in callback"), with the operation's own action and amount.
 * Sent once; the normal final callback follows when the outcome becomes known.
 */
export function undefinedOutcomeCallback(facts: PaymentFacts, action: string, amountMinor: number): Body {
  return {
    action, result: unknownOutcomeResult, status: 'PREPARE', order_id: facts.orderId, trans_id: facts.transId,
    trans_date: facts.transDate, amount: amountOf(facts, amountMinor), currency: facts.currency,
    card: facts.cardMask, card_expiration_date: facts.cardExpiry,
  };
}

/** CREDITVOID answers ACCEPTED at once; the result comes by callback. */
export function creditvoidResponse(facts: PaymentFacts): Body {
  return { action: 'CREDITVOID', result: 'ACCEPTED', order_id: facts.orderId, trans_id: facts.transId };
}

export function creditvoidCallback(
  facts: PaymentFacts, amountMinor: number, outcome: { approved: true; status: string; dateText: string } | { approved: false; declineReason: string },
): Body {
  if (outcome.approved) {
    return {
      action: 'CREDITVOID', result: 'SUCCESS', status: outcome.status, order_id: facts.orderId, trans_id: facts.transId,
      creditvoid_date: outcome.dateText, amount: amountOf(facts, amountMinor),
      card: facts.cardMask, card_expiration_date: facts.cardExpiry,
    };
  }
  return {
    action: 'CREDITVOID', result: 'DECLINED', order_id: facts.orderId, trans_id: facts.transId,
    decline_reason: outcome.declineReason, card: facts.cardMask, card_expiration_date: facts.cardExpiry,
  };
}

export function voidResponse(facts: PaymentFacts, approved: boolean, declineReason?: string): Body {
  const body: Body = {
    action: 'VOID', result: approved ? 'SUCCESS' : 'DECLINED', status: approved ? 'VOID' : facts.status,
    order_id: facts.orderId, trans_id: facts.transId, trans_date: facts.transDate,
  };
  if (!approved) body.decline_reason = declineReason ?? '';
  return body;
}

export function voidCallback(facts: PaymentFacts, approved: boolean, declineReason?: string): Body {
  return { ...voidResponse(facts, approved, declineReason), card: facts.cardMask, card_expiration_date: facts.cardExpiry };
}

/** The spec's CHARGEBACK notification (hash added when sending, Formula 2). */
export function chargebackCallback(
  facts: PaymentFacts, amountMinor: number, dispute: { chargebackDate: string; bankDate: string; reasonCode: string },
): Body {
  return {
    action: 'CHARGEBACK', result: 'SUCCESS', status: 'CHARGEBACK', order_id: facts.orderId, trans_id: facts.transId,
    amount: amountOf(facts, amountMinor), chargeback_date: dispute.chargebackDate, bank_date: dispute.bankDate,
    reason_code: dispute.reasonCode, card: facts.cardMask, card_expiration_date: facts.cardExpiry,
  };
}

export function statusResponse(action: 'GET_TRANS_STATUS' | 'GET_TRANS_STATUS_BY_ORDER', facts: PaymentFacts): Body {
  const body: Body = { action, result: 'SUCCESS', status: facts.status, order_id: facts.orderId, trans_id: facts.transId };
  if (facts.status === 'DECLINED') body.decline_reason = facts.declineReason ?? '';
  if (facts.recurringToken) body.recurring_token = facts.recurringToken;
  return { ...body, ...exchangeFields(facts) };
}

export interface SubTransaction {
  type: string;
  status: string;
  dateText: string;
  amountMinor: number;
}

/** One attempt of a cascade (ADR 0053), as GET_TRANS_DETAILS lists them. */
export interface CascadeAttempt {
  transId: string;
  status: string;
  declineReason: string | null;
  dateText: string;
}

export function detailsResponse(
  facts: PaymentFacts, payer: { name: string; mail: string; ip: string }, subTransactions: SubTransaction[],
  attempts: CascadeAttempt[] = [],
): Body {
  const body: Body = {
    action: 'GET_TRANS_DETAILS', result: 'SUCCESS', status: facts.status, order_id: facts.orderId, trans_id: facts.transId,
    name: payer.name, mail: payer.mail, ip: payer.ip, amount: amountOf(facts), currency: facts.currency, card: facts.cardMask,
  };
  if (facts.status === 'DECLINED') body.decline_reason = facts.declineReason ?? '';
  if (facts.recurringToken) body.recurring_token = facts.recurringToken;
  if (facts.scheduleId) body.schedule_id = facts.scheduleId;
  Object.assign(body, exchangeFields(facts));
  body.transactions = subTransactions.map((sub) => ({
    type: sub.type, status: sub.status, date: sub.dateText, amount: amountOf(facts, sub.amountMinor),
  }));
  // Kassa's addition: every attempt of the payment's cascade, first first (docs/protocol-notes.md).
  if (attempts.length > 1) {
    body.cascade = attempts.map((attempt) => ({
      trans_id: attempt.transId, status: attempt.status, date: attempt.dateText,
      ...(attempt.status === 'DECLINED' ? { decline_reason: attempt.declineReason ?? '' } : {}),
    }));
  }
  return body;
}
