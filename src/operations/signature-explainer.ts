import { parseFormText } from '../http/form-body.ts';
import {
  cardHashPart,
  checkoutHash,
  createScheduleHash,
  creditToCardHash,
  creditToCardTransactionHash,
  hashesMatch,
  type HashDigest,
  orderHash,
  phpStrrev,
  phpStrtoupper,
  saleHash,
  saleTokenHash,
  scheduleHash,
  transactionHash,
} from '../protocol/hash.ts';
import { loadApiRequest, recentHashRefusals, type ApiRequestRow } from '../storage/api-requests.ts';
import { loadMerchantByClientKey, loadMerchantById } from '../storage/merchants.ts';
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
      if (key === 'card_number' || key === 'payee_card_number' || key === 'payer_card_number')
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
  digest: HashDigest,
): Promise<Built> {
  const action = (fields.action ?? '').toUpperCase();
  const email = fields.payer_email ?? '';
  const card = fields.card_number ? cardHashPart(fields.card_number.replace(/\s/g, '')) : '';
  if (['SALE', 'RECURRING_SALE', 'DEBIT'].includes(action) || (action === '' && fields.card_number)) {
    if (fields.card_token) {
      return {
        formula: 'Formula 1 (card token): md5(strtoupper(strrev(email) . PASSWORD . strrev(card_token)))',
        hashedString: shown(phpStrrev(email), password, phpStrrev(fields.card_token)),
        expected: saleTokenHash(email, secret, fields.card_token, digest),
      };
    }
    return {
      formula: 'Formula 1: md5(strtoupper(strrev(email) . PASSWORD . strrev(first6 . last4)))',
      hashedString: shown(phpStrrev(email), password, phpStrrev(card)),
      expected: saleHash({ email, password: secret, cardDigits: card }, digest),
    };
  }
  if (action === 'CARD2CARD') return cardToCardFormula(secret, fields, digest);
  if (action === 'CREATE_CHECKOUT') {
    const orderId = fields.order_id ?? '';
    return {
      formula: 'CREATE_CHECKOUT: md5(strtoupper(strrev(payer_email) . PASSWORD . strrev(order_id)))',
      hashedString: shown(phpStrrev(email), password, phpStrrev(orderId)),
      expected: checkoutHash(email, secret, orderId, digest),
    };
  }
  if (action === 'CREATE_SCHEDULE') {
    return {
      formula: 'Formula 3: md5(strtoupper(strrev(PASSWORD)))',
      hashedString: 'strrev({PASSWORD})',
      expected: createScheduleHash(secret, digest),
    };
  }
  if (['PAUSE_SCHEDULE', 'RUN_SCHEDULE', 'DELETE_SCHEDULE', 'SCHEDULE_INFO', 'DESCHEDULE'].includes(action)) {
    const scheduleId = fields.schedule_id ?? '';
    return {
      formula: 'Formula 4: md5(strtoupper(strrev(schedule_id . PASSWORD)))',
      hashedString: `strrev(${scheduleId}{PASSWORD})`,
      expected: scheduleHash(scheduleId, secret, digest),
    };
  }
  if (action === 'CREDIT2CARD') {
    return {
      formula: 'Formula 5: md5(strtoupper(PASSWORD . strrev(first6 . last4)))',
      hashedString: shown(password, phpStrrev(card)),
      expected: creditToCardHash(secret, card, digest),
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
      expected: orderHash(
        { email: payment.payerEmail, password: secret, cardDigits: digits },
        fields.order_id ?? '',
        digest,
      ),
    };
  }
  if (fields.trans_id) return transactionFormula(context, merchantId, secret, fields.trans_id, digest);
  return 'unknownAction';
}

/** CARD2CARD signs Formula 1 over the payer's card (payer_card_number). */
function cardToCardFormula(secret: string, fields: Record<string, string>, digest: HashDigest): Built {
  const email = fields.payer_email ?? '';
  const payerCard = fields.payer_card_number ? cardHashPart(fields.payer_card_number.replace(/\s/g, '')) : '';
  return {
    formula: 'Formula 1 (CARD2CARD): md5(strtoupper(strrev(email) . PASSWORD . strrev(payer first6 . last4)))',
    hashedString: shown(phpStrrev(email), password, phpStrrev(payerCard)),
    expected: saleHash({ email, password: secret, cardDigits: payerCard }, digest),
  };
}

async function transactionFormula(
  context: PlatformContext,
  merchantId: string,
  secret: string,
  transId: string,
  digest: HashDigest,
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
      expected: creditToCardTransactionHash(secret, transId, digits, digest),
    };
  }
  return {
    formula:
      'Formula 2: md5(strtoupper(strrev(email) . PASSWORD . trans_id . strrev(first6 . last4)))'
      + ' — e-mail and card of the payment',
    hashedString: shown(phpStrrev(payment.payerEmail), password, transId, phpStrrev(digits)),
    expected: transactionHash({ email: payment.payerEmail, password: secret, cardDigits: digits }, transId, digest),
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
  const digest = merchant.hashDigest ?? 'md5';
  const secret = context.vault.decrypt(merchant.passwordCiphertext);
  const built = await build(context, merchant.merchantId, secret, fields, digest);
  if (typeof built === 'string') return { ok: false, problem: built };
  // A merchant signing with sha256 (ADR 0073): the same formula, sha256 in place of md5.
  if (digest === 'sha256') built.formula = `${built.formula.replace(/^(.*?)md5\(/, '$1sha256(')}`;
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

/** A refused request the console lists (docs/adr/0085): ids and masks only. */
export interface RefusedRequest {
  entryId: string;
  atMs: number;
  action: string;
  clientKey: string;
  orderId?: string;
  transId?: string;
  /** The card as first 6 and last 4 (`411111******1111`), when the request had one. */
  cardMask?: string;
}

const refusalsShownMax = 50;
const refusalsKeptMs = 24 * 60 * 60 * 1000;

function termsOf(row: ApiRequestRow): Record<string, string> {
  try {
    const terms = JSON.parse(row.hash_terms_json ?? '{}') as unknown;
    if (!terms || typeof terms !== 'object') return {};
    const texts = Object.entries(terms).filter((entry): entry is [string, string] => typeof entry[1] === 'string');
    return Object.fromEntries(texts);
  } catch {
    return {};
  }
}

function refusedRequestOf(row: ApiRequestRow): RefusedRequest {
  const terms = termsOf(row);
  const first = terms.card_number_first_6 ?? terms.payer_card_number_first_6;
  const last = terms.card_number_last_4 ?? terms.payer_card_number_last_4;
  return {
    entryId: row.entry_id,
    atMs: row.created_at_ms,
    action: terms.action ?? row.action ?? '',
    clientKey: row.client_key ?? terms.client_key ?? '',
    ...(terms.order_id ? { orderId: terms.order_id } : {}),
    ...(terms.trans_id ? { transId: terms.trans_id } : {}),
    ...(first && last ? { cardMask: `${first}******${last}` } : {}),
  };
}

/** The client_key a user is kept to: a merchant user's own; operators see every merchant's. */
async function ownClientKey(context: PlatformContext, user: ConsoleUser): Promise<string | undefined | null> {
  if (user.merchantId === null) return undefined;
  return (await loadMerchantById(context.storage, user.merchantId))?.clientKey.toLowerCase() ?? null;
}

/** The newest requests answered 900003 in the last 24 hours (sandbox: the API request log). */
export async function recentRefusedRequests(context: PlatformContext, user: ConsoleUser): Promise<RefusedRequest[]> {
  const clientKey = await ownClientKey(context, user);
  if (clientKey === null) return [];
  const rows = await recentHashRefusals(context.storage, {
    clientKey,
    sinceMs: context.clock.nowMs() - refusalsKeptMs,
    limit: refusalsShownMax,
  });
  return rows.map(refusedRequestOf);
}

/** One refused request explained as if pasted; another merchant's is `notFound`, as one that
 * does not exist (a merchant user cannot learn that it does). */
export async function explainRefusedRequest(
  context: PlatformContext,
  user: ConsoleUser,
  entryId: string,
): Promise<
  | { ok: true; request: RefusedRequest; explanation: Explanation }
  | { ok: false; problem: ExplainProblem | 'notFound'; request?: RefusedRequest }
> {
  const row = /^[0-9a-f-]{36}$/.test(entryId) ? await loadApiRequest(context.storage, entryId) : undefined;
  if (row?.error_code !== 900003 || row.hash_terms_json === null) return { ok: false, problem: 'notFound' };
  const clientKey = await ownClientKey(context, user);
  if (clientKey !== undefined && row.client_key !== clientKey) return { ok: false, problem: 'notFound' };
  const terms = termsOf(row);
  const fields: Record<string, string> = {};
  for (const [name, value] of Object.entries(terms)) if (!/_(first_6|last_4)$/.test(name)) fields[name] = value;
  for (const card of ['card_number', 'payer_card_number']) {
    const first = terms[`${card}_first_6`];
    const last = terms[`${card}_last_4`];
    if (first && last) fields[card] = first + last;
  }
  const request = refusedRequestOf(row);
  const result = await explainSignature(context, user, fields);
  if (!result.ok) return { ok: false, problem: result.problem, request };
  return { ok: true, request, explanation: result.explanation };
}
