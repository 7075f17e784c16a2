export { checkoutFields } from './action-fields.ts';


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
