import type { Generated } from 'kysely';

/** Table shapes. Amounts are integers in minor units; times are epoch milliseconds; flags are
 * 0/1 integers — the same on SQLite and PostgreSQL, so one query layer serves both. */

export interface MerchantTable {
  merchant_id: string;
  client_key: string;
  /** The PASSWORD, encrypted by the vault: it must be recoverable to compute md5 signatures. */
  password_ciphertext: string;
  email: string;
  callback_url: string | null;
  allowed_ips_json: string;
  channels_json: string;
  three_ds_enabled: number;
  s2s_card_enabled: number;
  descriptor: string;
  created_at_ms: number;
  updated_at_ms: number;
}

export interface PaymentTable {
  trans_id: string;
  merchant_id: string;
  order_id: string;
  /** The request action that created the payment (SALE, RECURRING_SALE, DEBIT, …). */
  action: string;
  /** 1 for AUTH (auth=Y): funds held, CAPTURE needed. */
  is_auth: number;
  status: string;
  amount_minor: number;
  captured_minor: number;
  refunded_minor: number;
  currency: string;
  order_description: string;
  payer_email: string;
  payer_json: string;
  card_bin: string;
  card_last_four: string;
  card_length: number;
  card_expiry: string;
  card_brand: string;
  /** PAN encrypted by the vault (AES-256-GCM, key id inside); never the plain number. */
  card_ciphertext: string;
  /** Keyed HMAC of the PAN for look-ups without decrypting. */
  card_fingerprint: string;
  channel_id: string | null;
  parameters_json: string | null;
  term_url_3ds: string;
  term_url_target: string | null;
  recurring_init: number;
  descriptor: string;
  decline_reason: string | null;
  /** Keyed HMAC of the whole request, to recognise an exact replay. */
  request_fingerprint: string;
  /** Id of the money operation (capture, reversal, void) holding the payment, if any. */
  operation_lock: string | null;
  /** When the money moved (SALE approval or CAPTURE): VOID is allowed that financial day only. */
  settled_at_ms: number | null;
  created_at_ms: number;
  updated_at_ms: number;
}

export interface PaymentOperationTable {
  operation_id: string;
  trans_id: string;
  /** Upper-case sub-transaction type: SALE, AUTH, 3DS, CAPTURE, REFUND, REVERSAL, VOID, … */
  type: string;
  /** success | waiting | fail, as GET_TRANS_DETAILS reports them. */
  status: string;
  amount_minor: number;
  decline_reason: string | null;
  created_at_ms: number;
  updated_at_ms: number;
}

export interface OutboxTable {
  outbox_id: string;
  /** What the row asks for; today only 'callback'. */
  topic: string;
  merchant_id: string;
  trans_id: string;
  /** The callback fields without the hash; the hash is computed when sending. */
  payload_json: string;
  created_at_ms: number;
  next_attempt_at_ms: number;
  attempt_count: Generated<number>;
  delivered_at_ms: number | null;
}

export interface Database {
  merchants: MerchantTable;
  payments: PaymentTable;
  payment_operations: PaymentOperationTable;
  outbox: OutboxTable;
}
