/**
 * The one registry of errors the API answers with. `docs/errors.md` lists the same rows; a
 * test fails when the two disagree. Codes and messages from the spec are used exactly as the
 * spec's table writes them; codes the spec does not define are Kassa's own and live in the
 * 9xxxxx range so they can never collide with a vendor code.
 */
export const protocolErrors = {
  requestInvalid: { code: 100000, message: 'Request data is invalid.', source: 'spec' },
  mappingNotFound: { code: 204002, message: 'Enabled merchant mappings or MIDs not found.', source: 'spec' },
  paymentTypeNotSupported: { code: 204003, message: 'Payment type not supported.', source: 'spec' },
  paymentMethodNotSupported: { code: 204004, message: 'Payment method not supported.', source: 'spec' },
  actionNotSupported: { code: 204005, message: 'Payment action not supported.', source: 'spec' },
  brandNotSupported: { code: 204006, message: 'Payment system/brand not supported.', source: 'spec' },
  midDayLimit: { code: 204007, message: 'Day MID limit is not set or exceeded.', source: 'spec' },
  mappingDayLimit: { code: 204008, message: 'Day Merchant mapping limit is not set or exceeded.', source: 'spec' },
  paymentTypeNotFound: { code: 204009, message: 'Payment type not found.', source: 'spec' },
  paymentMethodNotFound: { code: 204010, message: 'Payment method not found.', source: 'spec' },
  brandNotFound: { code: 204011, message: 'Payment system/brand not found.', source: 'spec' },
  currencyNotFound: { code: 204012, message: 'Payment currency not found.', source: 'spec' },
  actionNotFound: { code: 204013, message: 'Payment action not found.', source: 'spec' },
  midMonthLimit: { code: 204014, message: 'Month MID limit is exceeded.', source: 'spec' },
  mappingWeekLimit: { code: 204015, message: 'Week Merchant mapping limit is exceeded.', source: 'spec' },
  paymentNotFound: { code: 208001, message: 'Payment not found.', source: 'spec' },
  notInThreeDs: {
    code: 208002, source: 'spec',
    message: 'Not acceptable to request the 3ds for payment not in 3ds status.',
  },
  captureNotPending: {
    code: 208003, source: 'spec',
    message: 'Not acceptable to request the capture for payment not in pending status.',
  },
  captureTooLarge: {
    code: 208004, source: 'spec',
    message: 'Not acceptable to request the capture for amount bigger than auth amount.',
  },
  refundNotAllowed: {
    code: 208005, source: 'spec',
    message: 'Not acceptable to request the refund for payment not in settled or pending status.',
  },
  refundTooLarge: {
    code: 208006, source: 'spec',
    message: 'Not acceptable to request the refund for amount bigger than payment amount.',
  },
  reversalTooLarge: {
    code: 208008, source: 'spec',
    message: 'Not acceptable to request the reversal for amount bigger than payment amount.',
  },
  reversalPartial: {
    code: 208009, source: 'spec',
    message: 'Not acceptable to request the reversal for partial amount.',
  },
  chargebackTooLarge: {
    code: 208010, source: 'spec',
    message: "Not acceptable to request the chargeback for amount bigger than payment's amount.",
  },
  cardTokenNotFound: { code: 205005, message: 'Card token is invalid or not found.', source: 'spec' },
  cardTokenExpired: { code: 205006, message: 'Card token is expired.', source: 'spec' },
  cardTokenNotAccessible: { code: 205007, message: 'Card token is not accessible.', source: 'spec' },
  duplicateRequest: { code: 400, message: 'Duplicate request.', source: 'spec' },
  previousPaymentNotCompleted: { code: 400, message: 'Previous payment not completed.', source: 'spec' },
  merchantNotFound: { code: 900001, message: 'Merchant not found.', source: 'kassa' },
  ipNotAllowed: { code: 900002, message: 'Request from this IP address is not allowed.', source: 'kassa' },
  hashInvalid: { code: 900003, message: 'Hash is not valid.', source: 'kassa' },
  contentTypeNotSupported: {
    code: 900004, source: 'kassa',
    message: 'Request body must be application/x-www-form-urlencoded or multipart/form-data.',
  },
  requestTooLarge: { code: 900005, message: 'Request body is too large.', source: 'kassa' },
  hashLockedOut: {
    code: 900006, source: 'kassa',
    message: 'Too many wrong hashes from this IP address; requests are refused for a while.',
  },
  notFound: { code: 900404, message: 'Not found.', source: 'kassa' },
  scheduleNotFound: { code: 900101, message: 'Schedule not found.', source: 'kassa' },
  schedulePaused: { code: 900102, message: 'Schedule is paused.', source: 'kassa' },
  scheduleNotPaused: { code: 900103, message: 'Schedule is not paused.', source: 'kassa' },
  recurringTokenInvalid: {
    code: 900104, source: 'kassa',
    message: 'Recurring token is not valid for this transaction.',
  },
  recurringNotBound: { code: 900105, message: 'Recurring payment is not bound to this schedule.', source: 'kassa' },
  chargebackNotAllowed: {
    code: 900106, source: 'kassa',
    message: 'Chargeback is possible for a settled payment only.',
  },
  midWeekLimit: { code: 900201, message: 'Week MID limit is exceeded.', source: 'kassa' },
  mappingMonthLimit: { code: 900202, message: 'Month Merchant mapping limit is exceeded.', source: 'kassa' },
  retryNotAllowed: {
    code: 900301, source: 'kassa',
    message: 'Only a declined recurring payment can be retried.',
  },
  storageUnavailable: {
    code: 900503, source: 'kassa',
    message: 'Storage temporarily unavailable. Check the payment with GET_TRANS_STATUS before retrying.',
  },
  internal: {
    code: 900500, source: 'kassa',
    message: 'Internal error. Check the payment with GET_TRANS_STATUS before retrying.',
  },
} as const;

export type ProtocolErrorName = keyof typeof protocolErrors;

export interface FieldError {
  field: string;
  message: string;
}

/** Thrown (or returned) by operations; the HTTP layer turns it into the spec's error shape. */
export class ProtocolError extends Error {
  constructor(readonly name: ProtocolErrorName, readonly fieldErrors: FieldError[] = []) {
    super(protocolErrors[name].message);
  }
}

/**
 * The error for a request's field problems: 100000 with the list, except that an unknown
 * `order_currency`, when it is the request's only problem, is the spec's 204012 "Payment
 * currency not found" (ADR 0050).
 */
export function requestInvalid(errors: FieldError[], unknownCurrencyMessage: string): ProtocolError {
  const onlyCurrency = errors.length > 0
    && errors.every((error) => error.field === 'order_currency' && error.message === unknownCurrencyMessage);
  return onlyCurrency ? new ProtocolError('currencyNotFound') : new ProtocolError('requestInvalid', errors);
}

export interface ErrorBody {
  result: 'ERROR';
  error_code: number;
  error_message: string;
  errors?: { error_code: number; error_message: string }[];
}

export function errorBody(error: ProtocolError): ErrorBody {
  const entry = protocolErrors[error.name];
  const body: ErrorBody = { result: 'ERROR', error_code: entry.code, error_message: entry.message };
  if (error.fieldErrors.length > 0) {
    body.errors = error.fieldErrors.map((fieldError) => ({
      error_code: entry.code,
      error_message: `${fieldError.field}: ${fieldError.message}`,
    }));
  }
  return body;
}
