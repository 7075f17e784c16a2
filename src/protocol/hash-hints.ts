import type { RequestFields } from './validation.ts';

/**
 * What a sandbox adds to `900003 Hash is not valid.` (app.ts, sandbox mode only): the formula
 * the action is signed with, and the request's own values that went into it — e-mail, card first
 * 6 and last 4, trans_id, order_id, schedule_id — with the bytes before strtoupper and md5
 * spelled out. Never the PASSWORD and never the expected hash (either would hand a guesser the
 * secret or a valid signature); terms the platform takes from a stored payment are named, not
 * shown. Pure.
 */
export interface HashHint {
  formula: string;
  expression: string;
  /** The request's values the formula used, as received. */
  fields: Record<string, string>;
  /** The string md5 is taken of (after strtoupper), PASSWORD left as a placeholder. */
  input?: string;
  note?: string;
}

const reverse = (text: string) => Buffer.from(text, 'utf8').reverse().toString('latin1');
const upper = (text: string) => text.replace(/[a-z]/g, (letter) => letter.toUpperCase());
const text = (fields: RequestFields, name: string) =>
  typeof fields[name] === 'string' ? (fields[name] as string) : '';

function cardTerms(cardNumber: string): { fields: Record<string, string>; digits: string } {
  const [first, last] = [cardNumber.slice(0, 6), cardNumber.slice(-4)];
  return { fields: { card_first_6: first, card_last_4: last }, digits: first + last };
}

const formulaOne = 'md5(strtoupper(strrev(payer_email) . PASSWORD . strrev(substr(card,0,6) . substr(card,-4))))';
const formulaTwo =
  'md5(strtoupper(strrev(payer_email) . PASSWORD . trans_id . strrev(substr(card,0,6) . substr(card,-4))))';
const storedTerms = 'payer_email and card are those of the original payment (as its SALE request sent them)';

/** Formula 1 over an e-mail and a card number (SALE, DEBIT, CARD2CARD), or the card-token variant. */
function formulaOneHint(fields: RequestFields, cardField: string): HashHint {
  const email = text(fields, 'payer_email');
  const token = text(fields, 'card_token');
  if (token && !text(fields, cardField)) {
    return {
      formula: 'Formula 1 (card token)',
      expression: 'md5(strtoupper(strrev(payer_email) . PASSWORD . strrev(card_token)))',
      fields: { payer_email: email },
      input: `${upper(reverse(email))}{PASSWORD}{strtoupper(strrev(card_token))}`,
    };
  }
  const card = cardTerms(text(fields, cardField));
  return {
    formula: 'Formula 1',
    expression: formulaOne.replaceAll('card', cardField),
    fields: { payer_email: email, ...card.fields },
    input: `${upper(reverse(email))}{PASSWORD}${reverse(card.digits)}`,
  };
}

function onPaymentHint(fields: RequestFields): HashHint {
  return {
    formula: 'Formula 2 (Formula 6 for a CREDIT2CARD payment)',
    expression: formulaTwo,
    fields: { trans_id: text(fields, 'trans_id') },
    note:
      `${storedTerms}; Formula 6 is `
      + 'md5(strtoupper(PASSWORD . trans_id . strrev(substr(card,0,6) . substr(card,-4))))',
  };
}

function creditToCardHint(fields: RequestFields): HashHint {
  const token = text(fields, 'card_token');
  if (token && !text(fields, 'card_number')) {
    return {
      formula: 'Formula 5 (card token)',
      expression: 'md5(strtoupper(PASSWORD . strrev(card_token)))',
      fields: {},
    };
  }
  const card = cardTerms(text(fields, 'card_number'));
  return {
    formula: 'Formula 5',
    expression: 'md5(strtoupper(PASSWORD . strrev(substr(card_number,0,6) . substr(card_number,-4))))',
    fields: card.fields,
    input: `{PASSWORD}${reverse(card.digits)}`,
  };
}

function scheduleHint(fields: RequestFields): HashHint {
  const scheduleId = text(fields, 'schedule_id');
  return {
    formula: 'Formula 4',
    expression: 'md5(strtoupper(strrev(schedule_id . PASSWORD)))',
    fields: { schedule_id: scheduleId },
    input: `{strtoupper(strrev(PASSWORD))}${upper(reverse(scheduleId))}`,
  };
}

const hints: Record<string, (fields: RequestFields) => HashHint> = {
  SALE: (fields) => formulaOneHint(fields, 'card_number'),
  DEBIT: (fields) => formulaOneHint(fields, 'card_number'),
  CARD2CARD: (fields) => formulaOneHint(fields, 'payer_card_number'),
  RECURRING_SALE: (fields) => ({
    formula: 'Formula 1',
    expression: formulaOne,
    fields: { recurring_first_trans_id: text(fields, 'recurring_first_trans_id') },
    note: 'payer_email and card are those of the first payment (recurring_first_trans_id)',
  }),
  RETRY: onPaymentHint,
  CAPTURE: onPaymentHint,
  CREDITVOID: onPaymentHint,
  VOID: onPaymentHint,
  GET_TRANS_STATUS: onPaymentHint,
  GET_TRANS_DETAILS: onPaymentHint,
  GET_TRANS_STATUS_BY_ORDER: (fields) => ({
    formula: 'Formula 7',
    expression:
      'md5(strtoupper(strrev(payer_email) . PASSWORD . order_id . strrev(substr(card,0,6) . substr(card,-4))))',
    fields: { order_id: text(fields, 'order_id') },
    note: `${storedTerms} (the newest payment of the order)`,
  }),
  CREDIT2CARD: creditToCardHint,
  CREATE_SCHEDULE: () => ({ formula: 'Formula 3', expression: 'md5(strtoupper(strrev(PASSWORD)))', fields: {} }),
  PAUSE_SCHEDULE: scheduleHint,
  RUN_SCHEDULE: scheduleHint,
  DELETE_SCHEDULE: scheduleHint,
  SCHEDULE_INFO: scheduleHint,
  DESCHEDULE: scheduleHint,
  CREATE_CHECKOUT: (fields) => {
    const [email, orderId] = [text(fields, 'payer_email'), text(fields, 'order_id')];
    return {
      formula: 'Kassa checkout hash',
      expression: 'md5(strtoupper(strrev(payer_email) . PASSWORD . strrev(order_id)))',
      fields: { payer_email: email, order_id: orderId },
      input: `${upper(reverse(email))}{PASSWORD}${upper(reverse(orderId))}`,
    };
  },
};

export function hashHint(fields: RequestFields): HashHint | undefined {
  const action = text(fields, 'action');
  return Object.hasOwn(hints, action) ? hints[action](fields) : undefined;
}

/** What a 900003 request keeps for the console's signature explainer (docs/adr/0085). */
export type HashTerms = Record<string, string>;

const keptTerms = [
  'action', 'client_key', 'payer_email', 'card_token', 'order_id', 'trans_id', 'schedule_id',
  'recurring_first_trans_id', 'hash',
] as const;
const cardTermFields = ['card_number', 'payer_card_number'] as const;
const termLengthMax = 256;

/**
 * The terms a refused request's formula takes, as it sent them: its e-mail, ids, card token and
 * hash, and each card number reduced to first 6 and last 4 at once. Never the CVV, the whole card
 * number or anything the formula does not take. Pure.
 */
export function hashTermsOf(fields: RequestFields): HashTerms {
  const terms: HashTerms = {};
  for (const name of keptTerms) {
    const value = text(fields, name);
    if (value !== '') terms[name] = value.slice(0, termLengthMax);
  }
  for (const name of cardTermFields) {
    const digits = text(fields, name).replace(/\s/g, '');
    if (/^\d{10,19}$/.test(digits)) {
      terms[`${name}_first_6`] = digits.slice(0, 6);
      terms[`${name}_last_4`] = digits.slice(-4);
    }
  }
  return terms;
}
