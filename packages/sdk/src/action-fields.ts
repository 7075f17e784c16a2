import type { FieldRule } from './field-rules.ts';

/** The spec's request tables as data: required flags, lengths and formats per action. */

export const saleFields = {
  channel_id: { maxLength: 16 },
  order_id: { required: true, maxLength: 255 },
  order_amount: { required: true, check: 'amountText' },
  order_currency: { required: true, check: 'currency' },
  order_description: { required: true, maxLength: 1024 },
  req_token: { check: 'yesNo' },
  card_token: { exactLength: 64 },
  card_number: { required: true, check: 'cardNumber' },
  card_exp_month: { required: true, check: 'month' },
  card_exp_year: { required: true, check: 'year' },
  card_cvv2: { required: true, check: 'cvv' },
  payer_first_name: { required: true, maxLength: 32 },
  payer_last_name: { required: true, maxLength: 32 },
  payer_middle_name: { maxLength: 32 },
  payer_birth_date: { check: 'date' },
  payer_address: { required: true, maxLength: 255 },
  payer_address2: { maxLength: 255 },
  payer_house_number: { maxLength: 9 },
  payer_country: { required: true, check: 'country' },
  payer_state: { maxLength: 32 },
  payer_city: { required: true, maxLength: 40 },
  payer_district: { maxLength: 32 },
  payer_zip: { required: true, maxLength: 10 },
  payer_email: { required: true, maxLength: 256, check: 'email' },
  payer_phone: { required: true, maxLength: 32 },
  payer_ip: { required: true, check: 'ip' },
  term_url_3ds: { required: true, maxLength: 1024, check: 'url' },
  term_url_target: { maxLength: 1024 },
  recurring_init: { check: 'yesNo' },
  schedule_id: { maxLength: 255 },
  auth: { check: 'yesNo' },
  callback_url: { maxLength: 255, check: 'url' },
  hash: { required: true, maxLength: 64 },
} as const satisfies Record<string, FieldRule>;

/** SALE with card_token and no card data: the card fields become optional (the spec's `+ *`). */
export const tokenSaleFields = {
  ...saleFields,
  card_number: { check: 'cardNumber' },
  card_exp_month: { check: 'month' },
  card_exp_year: { check: 'year' },
} as const satisfies Record<string, FieldRule>;

/** RECURRING_SALE: the spec's table (no currency: the first payment's is used). */
export const recurringSaleFields = {
  order_id: { required: true, maxLength: 255 },
  order_amount: { required: true, check: 'amountText' },
  order_description: { required: true, maxLength: 1024 },
  recurring_first_trans_id: { required: true, check: 'uuid' },
  recurring_token: { required: true, check: 'uuid' },
  schedule_id: { maxLength: 255 },
  auth: { check: 'yesNo' },
  callback_url: { maxLength: 255, check: 'url' },
  hash: { required: true, maxLength: 64 },
} as const satisfies Record<string, FieldRule>;

/** CREATE_SCHEDULE (Formula 3). */
export const createScheduleFields = {
  name: { required: true, maxLength: 100 },
  interval_length: { required: true, check: 'positiveInteger' },
  interval_unit: { required: true, check: 'intervalUnit' },
  day_of_month: { check: 'dayOfMonth' },
  payments_count: { required: true, check: 'positiveInteger' },
  delays: { check: 'nonNegativeInteger' },
  hash: { required: true, maxLength: 64 },
} as const satisfies Record<string, FieldRule>;

/** PAUSE_SCHEDULE, RUN_SCHEDULE, DELETE_SCHEDULE, SCHEDULE_INFO (Formula 4). */
export const scheduleFields = {
  schedule_id: { required: true, check: 'uuid' },
  hash: { required: true, maxLength: 64 },
} as const satisfies Record<string, FieldRule>;

/** DESCHEDULE (Formula 4). */
export const descheduleFields = {
  recurring_token: { required: true, check: 'uuid' },
  schedule_id: { required: true, check: 'uuid' },
  hash: { required: true, maxLength: 64 },
} as const satisfies Record<string, FieldRule>;

export const payerFieldNames = [
  'payer_first_name', 'payer_last_name', 'payer_middle_name', 'payer_birth_date', 'payer_address', 'payer_address2',
  'payer_house_number', 'payer_country', 'payer_state', 'payer_city', 'payer_district', 'payer_zip', 'payer_email',
  'payer_phone', 'payer_ip',
] as const;

/** CAPTURE and CREDITVOID: trans_id and an optional amount. */
export const amountOnTransactionFields = {
  trans_id: { required: true, check: 'uuid' },
  amount: { check: 'amountText' },
  hash: { required: true, maxLength: 64 },
} as const satisfies Record<string, FieldRule>;

/** VOID: the spec types trans_id as "String up to 255 characters". */
export const voidFields = {
  trans_id: { required: true, maxLength: 255 },
  hash: { required: true, maxLength: 64 },
} as const satisfies Record<string, FieldRule>;

export const transactionQueryFields = {
  trans_id: { required: true, check: 'uuid' },
  hash: { required: true, maxLength: 64 },
} as const satisfies Record<string, FieldRule>;

/** RETRY (5.6.x): a declined RECURRING_SALE charged again, signed with Formula 2 over the
 * declined payment's e-mail and card. */
export const retryFields = {
  trans_id: { required: true, check: 'uuid' },
  hash: { required: true, maxLength: 64 },
} as const satisfies Record<string, FieldRule>;

/** The spec says "UUID format" for order_id here, but order ids are the merchant's strings up
 * to 255 characters everywhere else; refusing them would break real integrations. */
export const orderQueryFields = {
  order_id: { required: true, maxLength: 255 },
  hash: { required: true, maxLength: 64 },
} as const satisfies Record<string, FieldRule>;

/** Payer fields that the transfer actions (DEBIT, CREDIT2CARD, CARD2CARD) all list as optional,
 * with the spec's limits (payer_city is 32 here, unlike SALE's 40). */
const optionalPayerFields = {
  payer_first_name: { maxLength: 32 },
  payer_last_name: { maxLength: 32 },
  payer_middle_name: { maxLength: 32 },
  payer_birth_date: { check: 'date' },
  payer_address: { maxLength: 255 },
  payer_address2: { maxLength: 255 },
  payer_country: { check: 'country' },
  payer_state: { maxLength: 32 },
  payer_city: { maxLength: 32 },
  payer_zip: { maxLength: 10 },
  payer_email: { maxLength: 256, check: 'email' },
  payer_phone: { maxLength: 32 },
} as const satisfies Record<string, FieldRule>;

/** CREDIT2CARD and CARD2CARD: the payee, all optional. */
const payeeFields = {
  payee_first_name: { maxLength: 32 },
  payee_last_name: { maxLength: 32 },
  payee_middle_name: { maxLength: 32 },
  payee_birth_date: { check: 'date' },
  payee_address: { maxLength: 255 },
  payee_address2: { maxLength: 255 },
  payee_country: { check: 'country' },
  payee_state: { maxLength: 32 },
  payee_city: { maxLength: 32 },
  payee_zip: { maxLength: 10 },
  payee_email: { maxLength: 256, check: 'email' },
  payee_phone: { maxLength: 32 },
} as const satisfies Record<string, FieldRule>;

export const payeeFieldNames = Object.keys(payeeFields);

/** DEBIT: the spec's table. No channel_id, no recurring or token fields; payer_ip required. */
export const debitFields = {
  order_id: { required: true, maxLength: 255 },
  order_amount: { required: true, check: 'amountText' },
  order_currency: { required: true, check: 'currency' },
  order_description: { required: true, maxLength: 1024 },
  term_url_3ds: { required: true, maxLength: 1024, check: 'url' },
  card_number: { required: true, check: 'cardNumber' },
  card_exp_month: { required: true, check: 'month' },
  card_exp_year: { required: true, check: 'year' },
  card_cvv2: { required: true, check: 'cvv' },
  ...optionalPayerFields,
  payer_ip: { required: true, check: 'ip' },
  callback_url: { maxLength: 255, check: 'url' },
  hash: { required: true, maxLength: 64 },
} as const satisfies Record<string, FieldRule>;

/** CREDIT2CARD: the spec's table. It omits card_number, but its example request and Formula 5
 * sign one, so card_number is required (or card_token, the spec's token variant). The payee
 * card needs no expiry or CVV (a connector that wants them asks through Appendix C). */
export const creditToCardFields = {
  channel_id: { maxLength: 16 },
  order_id: { required: true, maxLength: 255 },
  order_amount: { required: true, check: 'amountText' },
  order_currency: { required: true, check: 'currency' },
  order_description: { required: true, maxLength: 1024 },
  card_number: { required: true, check: 'cardNumber' },
  card_token: { exactLength: 64 },
  ...payeeFields,
  ...optionalPayerFields,
  payer_ip: { check: 'ip' },
  callback_url: { maxLength: 255, check: 'url' },
  hash: { required: true, maxLength: 64 },
} as const satisfies Record<string, FieldRule>;

/** CREDIT2CARD with card_token and no card_number. */
export const tokenCreditToCardFields = {
  ...creditToCardFields,
  card_number: { check: 'cardNumber' },
} as const satisfies Record<string, FieldRule>;

/** CARD2CARD: the spec's table — payer card (with CVV, 3-D Secure possible) and payee card. */
export const cardToCardFields = {
  channel_id: { maxLength: 16 },
  order_id: { required: true, maxLength: 255 },
  order_amount: { required: true, check: 'amountText' },
  order_currency: { required: true, check: 'currency' },
  order_description: { required: true, maxLength: 1024 },
  payer_card_number: { required: true, check: 'cardNumber' },
  payer_card_exp_month: { required: true, check: 'month' },
  payer_card_exp_year: { required: true, check: 'year' },
  payer_card_cvv2: { required: true, check: 'cvv' },
  ...optionalPayerFields,
  payer_ip: { required: true, check: 'ip' },
  payee_card_number: { required: true, check: 'cardNumber' },
  ...payeeFields,
  term_url_3ds: { required: true, maxLength: 1024, check: 'url' },
  callback_url: { maxLength: 255, check: 'url' },
  hash: { required: true, maxLength: 64 },
} as const satisfies Record<string, FieldRule>;

/**
 * CREATE_CHECKOUT — Kassa's own action (not in S2S CARD 5.2.0): the merchant's server asks for a
 * hosted payment page session and sends the cardholder to the URL in the answer. The fields
 * follow the SALE table's names and limits wherever they mean the same thing.
 */
export const checkoutFields = {
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
} as const satisfies Record<string, FieldRule>;

/** Every action and the table its request is validated with (the token variants of SALE and
 * CREDIT2CARD apply when `card_token` replaces the card). The OpenAPI document is generated from
 * this map; a test checks that the server serves exactly these actions. */
export const actionFieldTables = {
  SALE: saleFields,
  CAPTURE: amountOnTransactionFields,
  CREDITVOID: amountOnTransactionFields,
  VOID: voidFields,
  GET_TRANS_STATUS: transactionQueryFields,
  GET_TRANS_DETAILS: transactionQueryFields,
  GET_TRANS_STATUS_BY_ORDER: orderQueryFields,
  CREATE_CHECKOUT: checkoutFields,
  RECURRING_SALE: recurringSaleFields,
  CREATE_SCHEDULE: createScheduleFields,
  PAUSE_SCHEDULE: scheduleFields,
  RUN_SCHEDULE: scheduleFields,
  DELETE_SCHEDULE: scheduleFields,
  SCHEDULE_INFO: scheduleFields,
  DESCHEDULE: descheduleFields,
  DEBIT: debitFields,
  CREDIT2CARD: creditToCardFields,
  CARD2CARD: cardToCardFields,
  RETRY: retryFields,
} as const;

export type ActionName = keyof typeof actionFieldTables;

/** 5.6.x: the actions that start a payment take `callback_url` (in their tables above) and
 * `custom_data[key]=value`, echoed in every callback of the payment. */
export const customDataActions = ['SALE', 'RECURRING_SALE', 'DEBIT', 'CREDIT2CARD', 'CARD2CARD'] as const;

/** The limits of `custom_data`: keys, key length and value length (Kassa's; the vendor's
 * public pages name none). A value that looks like a card number is refused. */
export const customDataLimits = { maxKeys: 20, maxKeyLength: 64, maxValueLength: 255 } as const;
