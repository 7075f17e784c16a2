import { Secret } from '../domain/secret.ts';
import type { Payment } from '../domain/payment.ts';
import { storedCard, type AlsoWrite } from './recurring.ts';
import type { PlatformContext } from './context.ts';
import type { PaymentExtras } from './payment-extras.ts';
import { performSale, type SaleCommand, type SaleMerchant, type SaleOutcome } from './sale.ts';

/** One charge of the card of an earlier payment. */
export interface StoredCardCharge {
  /** The payment that started recurring: its card, payer, channel and parameters are reused. */
  source: Payment;
  orderId: string;
  amountMinor: number;
  currency: string;
  description: string;
  isAuth: boolean;
  /** The schedule the charge is bound to (RECURRING_SALE with schedule_id) or made for. */
  scheduleId?: string;
  /** Identifies the charge: a second one with the same fingerprint is a replay. */
  fingerprint: string;
  /** RECURRING_SALE's 5.6.x callback_url and custom_data; a scheduled charge has none. */
  extras?: PaymentExtras;
  /** A schedule binding (RECURRING_SALE with schedule_id) or the scheduled charge's row. */
  alsoWrite: readonly AlsoWrite[];
}

/**
 * Charge a stored card: the use case a merchant's RECURRING_SALE and the schedule runner share.
 * A RECURRING_SALE payment on the source payment's card and payer, with no cardholder present
 * (no CVV, no 3-D Secure), its callback like any payment's.
 */
export function chargeStoredCard(
  context: PlatformContext, merchant: SaleMerchant, charge: StoredCardCharge,
): Promise<SaleOutcome> {
  const { source } = charge;
  const command: SaleCommand = {
    orderId: charge.orderId,
    amountMinor: charge.amountMinor,
    currency: charge.currency,
    description: charge.description,
    ...storedCard(context, source),
    cvv: new Secret(''),
    payerEmail: source.payerEmail,
    payer: JSON.parse(source.payerJson) as Record<string, string>,
    termUrl: source.termUrl3ds,
    termUrlTarget: source.termUrlTarget,
    channelId: source.channelId,
    parameters: source.parametersJson ? JSON.parse(source.parametersJson) as Record<string, string> : {},
    isAuth: charge.isAuth,
    recurringInit: false,
    extras: charge.extras,
  };
  return performSale(context, merchant, {
    action: 'RECURRING_SALE', command, fingerprint: charge.fingerprint, sourceTransId: source.transId,
    scheduleId: charge.scheduleId, alsoWrite: charge.alsoWrite,
  });
}
