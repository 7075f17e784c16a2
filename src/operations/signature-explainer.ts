import { parseFormText } from '../http/form-body.ts';
import {
  cardHashPart,
  checkoutHash,
  createScheduleHash,
  creditToCardHash,
  creditToCardTransactionHash,
  hashesMatch,
  orderHash,
  phpStrrev,
  phpStrtoupper,
  saleHash,
  saleTokenHash,
  scheduleHash,
  transactionHash,
} from '../protocol/hash.ts';
import { loadMerchantByClientKey } from '../storage/merchants.ts';
import { loadLatestPaymentOfOrder, loadPayment } from '../storage/payments.ts';
import type { ConsoleUser } from './console-accounts.ts';
import type { PlatformContext } from './context.ts';

/**
 * The signature explainer (issue #12, merchant dashboard): for a request as a developer sent it,
 * which Appendix A formula applies, the exact string that is hashed with the PASSWORD masked, and
 * the expected and given hashes — what one needs when `900003 Hash is not valid.` comes back.
 * The card number is reduced to first 6 + last 4 at once; nothing else of it is kept or shown.
 */

export interface Explanation {
  action: string;
  formula: string;
  /** The concatenation before md5, upper-cased, with `{PASSWORD}` where the password goes. */
  hashedString: string;
  expected: string;
  given: string;
  matches: boolean;
}

export type ExplainProblem =
  | 'empty'
  | 'noClientKey'
  | 'unknownMerchant'
  | 'otherMerchant'
  | 'unknownAction'
  | 'paymentNotFound';

/** Key=value lines or a urlencoded body, as pasted. */
export function parsePastedRequest(text: string): Record<string, string> {
  const trimmed = text.trim().slice(0, 20_000);
  const body =
    trimmed.includes('\n') && !trimmed.includes('&')
      ? trimmed
          .split(/\r?\n/)
          .map((line) => line.trim())
          .filter(Boolean)
          .map((line) => line.replace(/\s*[=:]\s*/, '='))
          .join('&')
      : trimmed;
  const fields: Record<string, string> = {};
  for (const [key, value] of Object.entries(parseFormText(body)))
    if (typeof value === 'string') fields[key] = value.trim();
  return fields;
}

/** A pasted request shown back: card number and CVV replaced by their mask. */
export function maskedRequestText(fields: Record<string, string>): string {
  return Object.entries(fields)
    .map(([key, value]) => {
      if (key === 'card_number' || key === 'payee_card_number')
        return `${key}=${value.slice(0, 6)}******${value.slice(-4)}`;
      if (key === 'card_cvv2') return `${key}=***`;
      return `${key}=${value}`;
    })
    .join('\n');
}

const password = { password: true } as const;

function shown(...parts: (string | Buffer | typeof password)[]): string {
  return parts
    .map((part) => (part === password ? '{PASSWORD}' : phpStrtoupper(part as string | Buffer).toString('utf8')))
    .join('');
}

type Built = Omit<Explanation, 'given' | 'matches' | 'action'> | ExplainProblem;

async function build(
  context: PlatformContext,
  merchantId: string,
  secret: string,
  fields: Record<string, string>,
): Promise<Built> {
  const action = (fields.action ?? '').toUpperCase();
  const email = fields.payer_email ?? '';
  const card = fields.card_number ? cardHashPart(fields.card_number.replace(/\s/g, '')) : '';
  if (['SALE', 'RECURRING_SALE', 'DEBIT'].includes(action) || (action === '' && fields.card_number)) {
    if (fields.card_token) {
      return {
        formula: 'Formula 1 (card token): md5(strtoupper(strrev(email) . PASSWORD . strrev(card_token)))',
        hashedString: shown(phpStrrev(email), password, phpStrrev(fields.card_token)),
        expected: saleTokenHash(email, secret, fields.card_token),
      };
    }
    return {
      formula: 'Formula 1: md5(strtoupper(strrev(email) . PASSWORD . strrev(first6 . last4)))',
      hashedString: shown(phpStrrev(email), password, phpStrrev(card)),
      expected: saleHash({ email, password: secret, cardDigits: card }),
    };
  }
  if (action === 'CREATE_CHECKOUT') {
    const orderId = fields.order_id ?? '';
    return {
      formula: 'CREATE_CHECKOUT: md5(strtoupper(strrev(payer_email) . PASSWORD . strrev(order_id)))',
      hashedString: shown(phpStrrev(email), password, phpStrrev(orderId)),
      expected: checkoutHash(email, secret, orderId),
    };
  }
  if (action === 'CREATE_SCHEDULE') {
    return {
      formula: 'Formula 3: md5(strtoupper(strrev(PASSWORD)))',
      hashedString: 'strrev({PASSWORD})',
      expected: createScheduleHash(secret),
    };
  }
  if (['PAUSE_SCHEDULE', 'RUN_SCHEDULE', 'DELETE_SCHEDULE', 'SCHEDULE_INFO', 'DESCHEDULE'].includes(action)) {
    const scheduleId = fields.schedule_id ?? '';
    return {
      formula: 'Formula 4: md5(strtoupper(strrev(schedule_id . PASSWORD)))',
      hashedString: `strrev(${scheduleId}{PASSWORD})`,
      expected: scheduleHash(scheduleId, secret),
    };
  }
  if (action === 'CREDIT2CARD') {
    return {
      formula: 'Formula 5: md5(strtoupper(PASSWORD . strrev(first6 . last4)))',
      hashedString: shown(password, phpStrrev(card)),
      expected: creditToCardHash(secret, card),
    };
  }
  if (action === 'GET_TRANS_STATUS_BY_ORDER') {
    const payment = await loadLatestPaymentOfOrder(context.storage, merchantId, fields.order_id ?? '');
    if (!payment) return 'paymentNotFound';
    const digits = payment.card.bin + payment.card.lastFour;
    return {
      formula:
        'Formula 7: md5(strtoupper(strrev(email) . PASSWORD . order_id . strrev(first6 . last4)))'
        + ' — e-mail and card of the payment',
      hashedString: shown(phpStrrev(payment.payerEmail), password, payment.orderId, phpStrrev(digits)),
      expected: orderHash({ email: payment.payerEmail, password: secret, cardDigits: digits }, fields.order_id ?? ''),
    };
  }
  if (fields.trans_id) return transactionFormula(context, merchantId, secret, fields.trans_id);
  return 'unknownAction';
}

async function transactionFormula(
  context: PlatformContext,
  merchantId: string,
  secret: string,
  transId: string,
): Promise<Built> {
  const payment = /^[0-9a-f-]{36}$/i.test(transId)
    ? await loadPayment(context.storage, merchantId, transId.toLowerCase())
    : undefined;
  if (!payment) return 'paymentNotFound';
  const digits = payment.card.bin + payment.card.lastFour;
  if (payment.action === 'CREDIT2CARD') {
    return {
      formula: 'Formula 6: md5(strtoupper(PASSWORD . trans_id . strrev(first6 . last4)))',
      hashedString: shown(password, transId, phpStrrev(digits)),
      expected: creditToCardTransactionHash(secret, transId, digits),
    };
  }
  return {
    formula:
      'Formula 2: md5(strtoupper(strrev(email) . PASSWORD . trans_id . strrev(first6 . last4)))'
      + ' — e-mail and card of the payment',
    hashedString: shown(phpStrrev(payment.payerEmail), password, transId, phpStrrev(digits)),
    expected: transactionHash({ email: payment.payerEmail, password: secret, cardDigits: digits }, transId),
  };
}

export async function explainSignature(
  context: PlatformContext,
  user: ConsoleUser,
  fields: Record<string, string>,
): Promise<{ ok: true; explanation: Explanation } | { ok: false; problem: ExplainProblem }> {
  if (Object.keys(fields).length === 0) return { ok: false, problem: 'empty' };
  if (!fields.client_key) return { ok: false, problem: 'noClientKey' };
  const merchant = await loadMerchantByClientKey(context.storage, fields.client_key.toLowerCase().slice(0, 100));
  if (!merchant) return { ok: false, problem: 'unknownMerchant' };
  if (user.merchantId !== null && merchant.merchantId !== user.merchantId)
    return { ok: false, problem: 'otherMerchant' };
  const built = await build(context, merchant.merchantId, context.vault.decrypt(merchant.passwordCiphertext), fields);
  if (typeof built === 'string') return { ok: false, problem: built };
  const given = fields.hash ?? '';
  return {
    ok: true,
    explanation: {
      action: (fields.action ?? '').toUpperCase(),
      ...built,
      given,
      matches: given !== '' && hashesMatch(built.expected, given),
    },
  };
}
