import {
  cardHashPart,
  checkoutHash,
  createScheduleHash,
  creditToCardHash,
  creditToCardTransactionHash,
  emailHash,
  orderHash,
  saleHash,
  saleTokenHash,
  scheduleHash,
  transactionHash,
  type HashDigest,
} from './hash.ts';

/**
 * The hash of any action's request from its fields, by the action's formula (Appendix A), for
 * tools that sign or check a request they did not build (`kassa hash`). Actions on an existing
 * payment sign its e-mail and card, which the request does not carry: give them as `payer_email`
 * and `card` (number, 6 + 4 digits or mask). Undefined for an action without a formula.
 */
export function requestSignature(
  action: string,
  fields: Record<string, string>,
  password: string,
  digest?: HashDigest,
): string | undefined {
  const email = fields.payer_email;
  const digits = (card = '') => (/^\d{10}$/.test(card) ? card : cardHashPart(card.replace(/\s+/g, '')));
  const onPayment = () =>
    transactionHash({ email, password, cardDigits: digits(fields.card) }, fields.trans_id ?? '', digest);
  switch (action) {
    case 'SALE':
    case 'DEBIT':
      if (fields.card_token && !fields.card_number) return saleTokenHash(email, password, fields.card_token, digest);
      return saleHash({ email, password, cardDigits: cardHashPart(fields.card_number ?? '') }, digest);
    case 'CARD2CARD':
      return saleHash({ email, password, cardDigits: cardHashPart(fields.payer_card_number ?? '') }, digest);
    case 'RECURRING_SALE':
      return saleHash({ email, password, cardDigits: digits(fields.card) }, digest);
    case 'CAPTURE':
    case 'CREDITVOID':
    case 'VOID':
    case 'GET_TRANS_STATUS':
    case 'GET_TRANS_DETAILS':
      if (fields.payment_action === 'CREDIT2CARD') {
        return creditToCardTransactionHash(password, fields.trans_id ?? '', digits(fields.card), digest);
      }
      return onPayment();
    case 'GET_TRANS_STATUS_BY_ORDER':
      return orderHash({ email, password, cardDigits: digits(fields.card) }, fields.order_id ?? '', digest);
    case 'CREDIT2CARD':
      if (fields.card_token && !fields.card_number) return creditToCardHash(password, fields.card_token, digest);
      return creditToCardHash(password, cardHashPart(fields.card_number ?? ''), digest);
    case 'CREATE_SCHEDULE':
      return createScheduleHash(password, digest);
    case 'PAUSE_SCHEDULE':
    case 'RUN_SCHEDULE':
    case 'DELETE_SCHEDULE':
    case 'SCHEDULE_INFO':
    case 'DESCHEDULE':
      return scheduleHash(fields.schedule_id ?? '', password, digest);
    case 'CREATE_CHECKOUT':
      return checkoutHash(email ?? '', password, fields.order_id ?? '', digest);
    case 'FORMULA_8':
      return emailHash(email ?? '', password, digest);
    default:
      return undefined;
  }
}
