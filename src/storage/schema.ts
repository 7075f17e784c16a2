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
  // Delivery bookkeeping (migration 0002_callbacks). Optional so the code that writes a
  // callback with a state change need not name them: they start NULL.
  /** Lease: a dispatcher holds the row until then; another may take it after. */
  claimed_until_ms?: number | null;
  /** Which claim holds the lease; results of a lost lease do not overwrite the row. */
  claim_token?: string | null;
  last_error?: string | null;
  /** Set when delivery was given up; `kassa callbacks resend` queues it again. */
  failed_at_ms?: number | null;
}

export interface CallbackAttemptTable {
  attempt_id: string;
  outbox_id: string;
  url: string;
  attempted_at_ms: number;
  status_code: number | null;
  /** First 200 bytes of the answer, or the error text. */
  response_excerpt: string | null;
  duration_ms: number;
  /** delivered | failed | refused (production SSRF rule) | skipped (no callback URL). */
  outcome: string;
}

export interface CallbackUrlBlockTable {
  url: string;
  consecutive_failures: number;
  /** The URL receives nothing until then (null: not blocked). */
  blocked_until_ms: number | null;
  updated_at_ms: number;
}

/** A payment waiting for the cardholder's 3-D Secure or redirect step. */
export interface ChallengeTable {
  trans_id: string;
  kind: string;
  failed_attempts: number;
  expires_at_ms: number;
  created_at_ms: number;
}

/** The CVV, encrypted, for the authorization after 3-D Secure only; erased at authorization or
 * at `erase_after_ms`, whichever comes first (PCI DSS 3.3.2). */
export interface CardSecretTable {
  trans_id: string;
  cvv_ciphertext: string;
  erase_after_ms: number;
}

export interface Database {
  challenges: ChallengeTable;
  card_secrets: CardSecretTable;
  merchants: MerchantTable;
  payments: PaymentTable;
  payment_operations: PaymentOperationTable;
  outbox: OutboxTable;
  callback_attempts: CallbackAttemptTable;
  callback_url_blocks: CallbackUrlBlockTable;
}
