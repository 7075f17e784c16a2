import { formatTransDate } from '../domain/dates.ts';
import { reportedStatus } from '../domain/payment.ts';
import type { CaptureOutcome } from '../operations/capture.ts';
import type { PlatformContext } from '../operations/context.ts';
import type { PaymentDetailsView } from '../operations/get-trans-details.ts';
import type { PaymentStatusView } from '../operations/get-trans-status.ts';
import { factsOf } from '../operations/payment-facts.ts';
import type { CreditvoidOutcome } from '../operations/refund-or-reverse.ts';
import type { SaleOutcome } from '../operations/sale.ts';
import type { VoidOutcome } from '../operations/void.ts';
import type { MerchantRecord } from '../storage/merchants.ts';
import {
  captureResponse,
  captureUnknownResponse,
  creditToCardResponse,
  creditvoidResponse,
  detailsResponse,
  saleResponse,
  statusResponse,
  voidResponse,
  voidUnknownResponse,
} from '../protocol/responses.ts';

/** The API's answers, rendered from the operations' typed outcomes: the one place (with the
 * callback writer, operations/finish-operation.ts) that knows the wire format's fields. */
type Body = Record<string, unknown>;

/** SALE, AUTH, RECURRING_SALE, DEBIT, CARD2CARD: SUCCESS with SETTLED or PENDING, DECLINED,
 * REDIRECT while the cardholder must act, SUCCESS with PREPARE when the acquirer's answer is
 * unknown ("final status will be sent in callback") — or, for a merchant that asked for 5.6.x's
 * result (ADR 0067), UNDEFINED with PREPARE. CREDIT2CARD has its own table. */
export function renderSale(
  context: PlatformContext, outcome: SaleOutcome, merchant?: Pick<MerchantRecord, 'unknownResult'>,
): Body {
  const facts = factsOf(context, outcome.payment);
  const body = outcome.payment.action === 'CREDIT2CARD'
    ? creditToCardResponse(facts) : saleResponse(facts, outcome.redirect);
  if (merchant?.unknownResult === 'undefined' && body.status === 'PREPARE' && body.result === 'SUCCESS') {
    return { ...body, result: 'UNDEFINED' };
  }
  return body;
}

export function renderCapture(context: PlatformContext, outcome: CaptureOutcome): Body {
  const facts = factsOf(context, outcome.payment, { dateMs: outcome.atMs });
  if (outcome.result === 'unknown') return captureUnknownResponse(facts, outcome.amountMinor);
  return captureResponse(facts, outcome.amountMinor, outcome.result === 'approved', outcome.declineReason);
}

/** CREDITVOID answers ACCEPTED whatever the acquirer said — or did not say: the result goes
 * out by callback once it is known. */
export function renderCreditvoid(context: PlatformContext, outcome: CreditvoidOutcome): Body {
  return creditvoidResponse(factsOf(context, outcome.payment));
}

export function renderVoid(context: PlatformContext, outcome: VoidOutcome): Body {
  const facts = factsOf(context, outcome.payment, { dateMs: outcome.atMs, status: reportedStatus(outcome.payment) });
  if (outcome.result === 'unknown') return voidUnknownResponse(facts);
  return voidResponse(facts, outcome.result === 'approved', outcome.declineReason);
}

export function renderStatus(action: 'GET_TRANS_STATUS' | 'GET_TRANS_STATUS_BY_ORDER') {
  return (context: PlatformContext, view: PaymentStatusView): Body =>
    statusResponse(action, factsOf(context, view.payment, { status: view.status }));
}

export function renderDetails(context: PlatformContext, view: PaymentDetailsView): Body {
  return detailsResponse(
    factsOf(context, view.payment, { status: view.status }),
    view.payer,
    view.operations.map((operation) => ({
      type: operation.type,
      status: operation.status,
      dateText: formatTransDate(operation.createdAtMs, context.timeZone),
      amountMinor: operation.amountMinor,
    })),
    view.attempts.map((attempt) => ({
      transId: attempt.transId, status: attempt.status, declineReason: attempt.declineReason,
      dateText: formatTransDate(attempt.createdAtMs, context.timeZone),
    })),
  );
}
