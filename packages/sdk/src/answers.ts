/**
 * The API's answers as types. Every answer is JSON with `result`; amounts are strings in major
 * units ("1.99"), dates the platform's `YYYY-MM-DD hh:mm:ss`. Narrow on `result` (and `status`).
 */

export interface ErrorAnswer {
  result: 'ERROR';
  error_code: number;
  error_message: string;
  /** One entry per invalid field: `field: message`. */
  errors?: { error_code: number; error_message: string }[];
}

interface PaymentAnswerBase {
  action: string;
  order_id: string;
  trans_id: string;
  trans_date: string;
  descriptor?: string;
  amount?: string;
  currency?: string;
}

export interface PaymentSuccess extends PaymentAnswerBase {
  result: 'SUCCESS';
  status: 'PENDING' | 'PREPARE' | 'SETTLED' | 'REFUND' | 'REVERSAL' | 'VOID' | string;
  recurring_token?: string;
  schedule_id?: string;
  card_token?: string;
}

export interface PaymentDeclined extends PaymentAnswerBase {
  result: 'DECLINED';
  status: string;
  decline_reason: string;
}

/** Send the cardholder to `redirect_url` with `redirect_params`, by `redirect_method`. */
export interface PaymentRedirect extends PaymentAnswerBase {
  result: 'REDIRECT';
  status: '3DS' | 'REDIRECT';
  redirect_url: string;
  /** An object on `/post`; `[]` when there are none. */
  redirect_params: Record<string, string> | [];
  redirect_method: 'POST' | 'GET';
}

/** The acquirer's answer is not known yet: the final status comes by callback. Never a decline. */
export interface PaymentUndefined extends PaymentAnswerBase {
  result: 'UNDEFINED';
  status: 'PREPARE';
}

export type PaymentAnswer = PaymentSuccess | PaymentDeclined | PaymentRedirect | PaymentUndefined | ErrorAnswer;

export interface CreditvoidAccepted {
  action: 'CREDITVOID';
  result: 'ACCEPTED';
  order_id: string;
  trans_id: string;
}
export type CreditvoidAnswer = CreditvoidAccepted | ErrorAnswer;

export interface StatusSuccess {
  action: 'GET_TRANS_STATUS' | 'GET_TRANS_STATUS_BY_ORDER';
  result: 'SUCCESS';
  status: string;
  order_id: string;
  trans_id: string;
  decline_reason?: string;
  recurring_token?: string;
}
export type StatusAnswer = StatusSuccess | ErrorAnswer;

export interface DetailsSuccess {
  action: 'GET_TRANS_DETAILS';
  result: 'SUCCESS';
  status: string;
  order_id: string;
  trans_id: string;
  name: string;
  mail: string;
  ip: string;
  amount: string;
  currency: string;
  card: string;
  decline_reason?: string;
  recurring_token?: string;
  schedule_id?: string;
  transactions: { type: string; status: string; date: string; amount: string }[];
  /** Kassa: every attempt of the payment's cascade, first first; only when it had more than one. */
  cascade?: { trans_id: string; status: string; date: string; decline_reason?: string }[];
}
export type DetailsAnswer = DetailsSuccess | ErrorAnswer;

export interface CheckoutSuccess {
  action: 'CREATE_CHECKOUT';
  result: 'SUCCESS';
  session_id: string;
  order_id: string;
  amount: string;
  currency: string;
  redirect_url: string;
  redirect_method: 'GET';
  expires_at: string;
}
export type CheckoutAnswer = CheckoutSuccess | ErrorAnswer;

/** CREATE_SCHEDULE, PAUSE/RUN/DELETE_SCHEDULE, SCHEDULE_INFO, DESCHEDULE. */
export interface ScheduleSuccess {
  action: string;
  result: 'SUCCESS';
  schedule_id?: string;
  [field: string]: unknown;
}
export type ScheduleAnswer = ScheduleSuccess | ErrorAnswer;

/** Any answer, for `post()`: the fields are the server's. */
export type AnyAnswer = { result: string; [field: string]: unknown };

export function isError(answer: { result: string }): answer is ErrorAnswer {
  return answer.result === 'ERROR';
}
