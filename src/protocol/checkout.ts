import type { FieldRule } from './validation.ts';

/**
 * CREATE_CHECKOUT — Kassa's own action (not in S2S CARD 5.2.0): the merchant's server asks for a
 * hosted payment page session and sends the cardholder to the URL in the answer. The fields
 * follow the SALE table's names and limits wherever they mean the same thing.
 */
export const checkoutFields: Record<string, FieldRule> = {
  order_id: { required: true, maxLength: 255 },
  order_amount: { required: true, check: 'amountText' },
  order_currency: { required: true, check: 'currency' },
  order_description: { required: true, maxLength: 1024 },
  payer_email: { required: true, maxLength: 256, check: 'email' },
  success_url: { required: true, maxLength: 1024, check: 'url' },
  decline_url: { required: true, maxLength: 1024, check: 'url' },
  auth: { check: 'yesNo' },
  recurring_init: { check: 'yesNo' },
  req_token: { check: 'yesNo' },
  language: { maxLength: 2 },
  hash: { required: true, maxLength: 64 },
};

export interface CheckoutFacts {
  sessionId: string;
  orderId: string;
  amount: string;
  currency: string;
  url: string;
  expiresAtText: string;
}

/** The answer: where to send the cardholder (GET, nothing to post), and until when. */
export function checkoutResponse(facts: CheckoutFacts): Record<string, unknown> {
  return {
    action: 'CREATE_CHECKOUT', result: 'SUCCESS', session_id: facts.sessionId, order_id: facts.orderId,
    amount: facts.amount, currency: facts.currency,
    redirect_url: facts.url, redirect_method: 'GET', expires_at: facts.expiresAtText,
  };
}
