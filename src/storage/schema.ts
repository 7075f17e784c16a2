import type { Generated } from 'kysely';
import type { PaymentStatus } from '../domain/payment.ts';

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
  // Hosted payment page and refund applications (migration 0005); database defaults apply.
  /** Origins allowed to frame the hosted payment page (JSON list); none by default. */
  frame_origins_json: Generated<string>;
  /** Business days within which a refund application is answered (default 14). */
  refund_days: Generated<number>;
  /** Holidays (`YYYY-MM-DD`, JSON list) not counted as business days. */
  holidays_json: Generated<string>;
  /** The latest lock of any (merchant, IP) pair in hash_lockouts (migration 0010); 0: never. */
  hash_locked_until_ms: Generated<number>;
  /** Bumped by every routing change (migration 0020): a cached routing snapshot older than it
   * is not used. */
  routing_revision: Generated<number>;
  /** `md5` or `sha256`: the digest of every formula for this merchant (migration 0040). */
  hash_digest: Generated<string>;
  /** `success` (5.2.0) or `undefined` (5.6.x): how a SALE-like answer reports an unknown bank
   * outcome (migration 0081, docs/adr/0067). */
  unknown_result: Generated<string>;
}

export interface PaymentTable {
  trans_id: string;
  merchant_id: string;
  order_id: string;
  /** The request action that created the payment (SALE, RECURRING_SALE, DEBIT, …). */
  action: string;
  /** 1 for AUTH (auth=Y): funds held, CAPTURE needed. */
  is_auth: number;
  status: PaymentStatus;
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
  // Recurring payments, card tokens and transfers (migration 0006). Optional so code that
  // writes an ordinary SALE need not name them: they start NULL.
  /** Issued to a SALE with recurring_init=Y (random UUID); shown once the payment succeeded. */
  recurring_token?: string | null;
  /** The card_token issued to this payment (req_token=Y), encrypted by the vault. */
  card_token_ciphertext?: string | null;
  /** The schedule this payment was bound to, or was charged for. */
  schedule_id?: string | null;
  /** X-Request-Id of the request that created the payment (migration 0030); NULL for payments
   * made by the scheduler, and for those made before the column. */
  request_id?: string | null;
  /** RECURRING_SALE and scheduled charges: the first payment whose card is charged. */
  source_trans_id?: string | null;
  /** CARD2CARD / CREDIT2CARD: payee_* fields (JSON) and the payee card, masked and encrypted. */
  payee_json?: string | null;
  payee_card_mask?: string | null;
  payee_card_ciphertext?: string | null;
  /** The MID that processed the payment (migration 0020); NULL: the default MID. */
  mid_id?: string | null;
  /** 5.6.x `callback_url` of the request that made it (migration 0041); NULL: the merchant's. */
  callback_url?: string | null;
  /** 5.6.x `custom_data[...]` as sent (JSON object of strings), echoed in every callback. */
  custom_data_json?: string | null;
  /** Cascading (migration 0021): the trans_id of the cascade's first attempt; NULL on that one. */
  cascade_of?: string | null;
  /** The attempt's number in its cascade, 1 for the first (and for every payment before 0021). */
  cascade_attempt?: number;
  /** Currency exchange (migration 0022): the rates used and the original currency and amount. */
  exchange_rate?: string | null;
  exchange_rate_base?: string | null;
  exchange_currency?: string | null;
  exchange_amount_minor?: number | null;
}

/** A card token (req_token=Y): looked up by a keyed fingerprint of the token, never stored
 * in plain; the card stays in the source payment, encrypted. */
export interface CardTokenTable {
  token_fingerprint: string;
  merchant_id: string;
  source_trans_id: string;
  expires_at_ms: number;
  created_at_ms: number;
}

/** A recurring schedule (CREATE_SCHEDULE): a template that cards are bound to. */
export interface ScheduleTable {
  schedule_id: string;
  merchant_id: string;
  name: string;
  /** day | month */
  interval_unit: string;
  interval_length: number;
  day_of_month: number | null;
  payments_count: number;
  delays: number;
  paused: number;
  /** Due dates before this calendar day (YYYY-MM-DD, platform time zone) were skipped by a
   * pause; set by RUN_SCHEDULE. */
  resumed_on: string | null;
  deleted_at_ms: number | null;
  created_at_ms: number;
  updated_at_ms: number;
}

/** A card bound to a schedule by a SALE (recurring_init=Y) or RECURRING_SALE with schedule_id. */
export interface ScheduleBindingTable {
  binding_id: string;
  schedule_id: string;
  merchant_id: string;
  /** The payment that carried schedule_id: its day anchors the dates, its amount is charged. */
  initiating_trans_id: string;
  /** The payment whose card (and recurring token) is charged. */
  source_trans_id: string;
  anchor_on: string;
  amount_minor: number;
  currency: string;
  order_id: string;
  /** active | completed | descheduled | ended (initiating payment declined) */
  status: string;
  charges_made: number;
  /** Series index of the last due date handled (0: none yet). */
  last_index: number;
  /** The next due date the runner looks at (YYYY-MM-DD). */
  next_due_on: string;
  /** Claimed by a scheduler node until then (wall-clock ms; null: free). Divides work between
   * nodes; exactly once is the charge row's unique key. */
  claimed_until_ms?: number | null;
  created_at_ms: number;
  updated_at_ms: number;
}

/** One row per charge the scheduler made: UNIQUE (binding_id, due_on) is what makes a second
 * runner (another node, or the same after a crash) collide instead of charging twice. */
export interface ScheduleChargeTable {
  charge_id: string;
  binding_id: string;
  schedule_id: string;
  due_on: string;
  series_index: number;
  trans_id: string;
  created_at_ms: number;
}

/** Platform-wide settings shared by every node and the CLI (e.g. the sandbox clock offset). */
export interface SettingTable {
  name: string;
  value: string;
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

/** One API request as `kassa logs tail` shows it (migration 0042, sandbox only): never a field
 * that could carry card data — ids, the action, the answer's result and error. */
export interface ApiRequestTable {
  entry_id: string;
  request_id: string;
  client_key: string | null;
  action: string | null;
  method: string;
  path: string;
  remote_ip: string;
  result: string;
  status: string | null;
  error_code: number | null;
  error_message: string | null;
  /** JSON list of field names the validation refused. */
  invalid_fields: string | null;
  trans_id: string | null;
  duration_ms: number;
  created_at_ms: number;
  /** A 900003 answer only: the terms its formula takes, JSON (docs/adr/0085); else null. */
  hash_terms_json: string | null;
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
  /** The payment's own callback URL (5.6.x `callback_url`, migration 0041), copied at write
   * time; NULL (or absent): the merchant's URL, read at send time. */
  callback_url?: string | null;
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
  /** delivered | failed | refused (production SSRF rule) | skipped (the URL was removed after the claim;
   * callbacks of merchants without a URL are marked failed with no attempt). */
  outcome: string;
}

export interface CallbackUrlBlockTable {
  url: string;
  consecutive_failures: number;
  /** The URL receives nothing until then (null: not blocked). */
  blocked_until_ms: number | null;
  updated_at_ms: number;
}

/** Wrong hashes of one (merchant, client IP) pair in its current window, and its lock. */
export interface HashLockoutTable {
  merchant_id: string;
  ip: string;
  window_started_at_ms: number;
  wrong_hashes: number;
  /** Every request of the pair is refused until then; 0: not locked. */
  locked_until_ms: number;
  updated_at_ms: number;
}

/** A hosted payment page session (CREATE_CHECKOUT): what to charge, never card data. */
export interface CheckoutSessionTable {
  /** 128 random bits, base64url: the unguessable part of `/pay/{session_id}`. */
  session_id: string;
  merchant_id: string;
  order_id: string;
  amount_minor: number;
  currency: string;
  order_description: string;
  payer_email: string;
  success_url: string;
  decline_url: string;
  is_auth: number;
  recurring_init: number;
  request_token: number;
  language: string | null;
  /** OPEN (may take a payment) | PAYING (a payment is under way) | PAID (approved, final). */
  status: string;
  /** The one-time token of the form last shown; consumed by the submission that pays. */
  form_token: string | null;
  /** The latest payment made on the page. */
  trans_id: string | null;
  expires_at_ms: number;
  created_at_ms: number;
  updated_at_ms: number;
}

/** A cardholder's "Application for refund" of a payment, answered by the merchant's operator. */
export interface RefundApplicationTable {
  application_id: string;
  trans_id: string;
  merchant_id: string;
  /** return (goods or service given back) | erroneous_charge */
  kind: string;
  reason: string;
  amount_minor: number;
  currency: string;
  contact_email: string;
  /** RECEIVED | APPROVING (refund under way) | APPROVED | REJECTED */
  status: string;
  received_at_ms: number;
  /** Calendar day of receipt in the platform time zone; the deadline counts from it. */
  received_date: string;
  /** Last business day to answer (`YYYY-MM-DD`), fixed at receipt. */
  deadline_date: string;
  decided_at_ms: number | null;
  decision_note: string | null;
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

/** The reconciler's record of a waiting operation whose outcome it is finding out (0091). */
export interface ReconciliationTable {
  operation_id: string;
  trans_id: string;
  /** Status inquiries made so far. */
  inquiry_count: number;
  next_inquiry_at_ms: number;
  /** A node's lease while it asks; another node skips the row until it runs out. */
  claimed_until_ms: number | null;
  claim_token: string | null;
  /** What the last inquiry said (unknown, an error text), for the operator. */
  last_answer: string | null;
  /** Set once the outcome stayed unknown past the deadline: the operator's list. */
  operator_needed_at_ms: number | null;
  /** approved | declined | finished-elsewhere, once written. */
  resolution: string | null;
  resolved_by: string | null;
  resolved_at_ms: number | null;
  created_at_ms: number;
}

/** Routing (migration 0020, ADR 0050). Lists are JSON arrays; `*` in a MID's lists accepts all. */
export interface MidTable {
  mid_id: string;
  name: string;
  connector: string;
  settings_json: string;
  secret_settings_ciphertext: string | null;
  payment_types_json: string;
  actions_json: string;
  brands_json: string;
  currencies_json: string;
  settlement_currency: string;
  /** The currencies it takes by exchange into its settlement currency (JSON); NULL: none. */
  exchange_currencies_json?: string | null;
  three_ds_mode: string;
  require_day_limit: number;
  enabled: number;
  created_at_ms: number;
  updated_at_ms: number;
}

export interface ExchangeRateTable {
  rate_id: string;
  from_currency: string;
  to_currency: string;
  /** NULL: the pair's rate was removed. */
  rate: string | null;
  created_at_ms: number;
}

export interface RoutingSettingTable {
  name: string;
  value: string | null;
}

export interface MerchantMappingTable {
  mapping_id: string;
  merchant_id: string;
  protocol: string;
  payment_methods_json: string;
  mid_ids_json: string;
  require_day_limit: number;
  enabled: number;
  /** The cascade rule (JSON, ADR 0053); NULL: the default rule. */
  cascade_json?: string | null;
  created_at_ms: number;
  updated_at_ms: number;
}

export interface RoutingLimitTable {
  limit_id: string;
  /** mid | mapping */
  owner_kind: string;
  owner_id: string;
  /** day | week | month */
  window: string;
  currency: string;
  amount_minor: number;
  created_at_ms: number;
}

export interface LimitCounterTable {
  limit_id: string;
  window_key: string;
  shard: number;
  used_minor: number;
}

export interface LimitHoldTable {
  trans_id: string;
  limit_id: string;
  window_key: string;
  shard: number;
  amount_minor: number;
}

export interface RoutingChangeTable {
  change_id: string;
  actor: string;
  subject: string;
  detail_json: string;
  created_at_ms: number;
}

export interface Database {
  reconciliations: ReconciliationTable;
  mids: MidTable;
  merchant_mappings: MerchantMappingTable;
  exchange_rates: ExchangeRateTable;
  routing_settings: RoutingSettingTable;
  routing_limits: RoutingLimitTable;
  limit_counters: LimitCounterTable;
  limit_holds: LimitHoldTable;
  routing_changes: RoutingChangeTable;
  challenges: ChallengeTable;
  card_secrets: CardSecretTable;
  merchants: MerchantTable;
  payments: PaymentTable;
  api_requests: ApiRequestTable;
  payment_operations: PaymentOperationTable;
  outbox: OutboxTable;
  callback_attempts: CallbackAttemptTable;
  callback_url_blocks: CallbackUrlBlockTable;
  hash_lockouts: HashLockoutTable;
  checkout_sessions: CheckoutSessionTable;
  refund_applications: RefundApplicationTable;
  card_tokens: CardTokenTable;
  schedules: ScheduleTable;
  schedule_bindings: ScheduleBindingTable;
  schedule_charges: ScheduleChargeTable;
  settings: SettingTable;
  console_users: ConsoleUserTable;
  console_sessions: ConsoleSessionTable;
  console_login_failures: ConsoleLoginFailureTable;
  audit_log: AuditLogTable;
}

// The admin console (migration 0050_console, docs/adr/0080).

/** A person who signs in to the console: an operator (administrator, support, viewer) or a
 * merchant's user, who sees only merchant_id's payments. */
export interface ConsoleUserTable {
  user_id: string;
  /** Lower-case; the sign-in name. */
  email: string;
  role: string;
  merchant_id: string | null;
  /** `scrypt$N$r$p$salt$key` (base64url), see src/console/passwords.ts. */
  password_hash: string;
  created_at_ms: number;
  updated_at_ms: number;
}

/** A signed-in browser. The cookie holds a random token; only its SHA-256 is stored, so a copy
 * of the database signs nobody in. */
export interface ConsoleSessionTable {
  token_digest: string;
  user_id: string;
  /** Every form of the session carries it; a POST without it changes nothing. */
  csrf_token: string;
  created_at_ms: number;
  last_seen_at_ms: number;
}

/** Failed sign-ins per subject (`email:…` or `ip:…`) in the current window, and the lock. */
export interface ConsoleLoginFailureTable {
  subject: string;
  window_started_at_ms: number;
  failures: number;
  locked_until_ms: number;
}

/** One change made in the console or with the CLI. Never card data: payments appear by trans_id. */
export interface AuditLogTable {
  entry_id: string;
  at_ms: number;
  /** The console user's e-mail, or `cli` with the operating-system user. */
  actor: string;
  actor_role: string;
  /** The merchant the change concerns, when there is one (merchant users read their own). */
  merchant_id: string | null;
  action: string;
  target: string;
  before_json: string | null;
  after_json: string | null;
}
