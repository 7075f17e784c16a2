import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Appendix A signatures, computed exactly as the reference PHP platform computes them:
 * `strrev` reverses bytes (not characters), `strtoupper` changes ASCII a–z only, and `.`/`+`
 * concatenate strings. Everything here works on UTF-8 bytes so a non-ASCII e-mail hashes as
 * PHP would hash it. Pure: shared by the platform and by merchants verifying callbacks.
 */

type Part = string | Buffer;

function toBytes(part: Part): Buffer {
  return typeof part === 'string' ? Buffer.from(part, 'utf8') : part;
}

export function phpStrrev(part: Part): Buffer {
  return Buffer.from(toBytes(part)).reverse();
}

export function phpStrtoupper(part: Part): Buffer {
  const bytes = Buffer.from(toBytes(part));
  for (let index = 0; index < bytes.length; index += 1) {
    const byte = bytes[index];
    if (byte >= 0x61 && byte <= 0x7a) bytes[index] = byte - 0x20;
  }
  return bytes;
}

/**
 * The digest a merchant's hashes use. MD5 by default; the 5.6.x documents add a per-merchant
 * "Use SHA256 encryption algorithm for hash" mode: the same inputs in the same order, sha256 in
 * place of md5, for requests and callbacks alike (docs/compatibility-5.6.md).
 */
export type HashDigest = 'md5' | 'sha256';

function md5Hex(bytes: Buffer, digest: HashDigest = 'md5'): string {
  return createHash(digest).update(bytes).digest('hex');
}

function concat(...parts: Part[]): Buffer {
  return Buffer.concat(parts.map(toBytes));
}

/** BIN and last four as the formulas use them: substr(card,0,6).substr(card,-4). */
export function cardHashPart(cardNumberOrBin: string, lastFour?: string): string {
  if (lastFour !== undefined) return cardNumberOrBin + lastFour;
  return cardNumberOrBin.slice(0, 6) + cardNumberOrBin.slice(-4);
}

/** An absent optional term (no e-mail in DEBIT, say) is dropped: strrev('') is ''. */
export interface CardTerms {
  email?: string;
  password: string;
  /** First six and last four digits, already joined (see cardHashPart). */
  cardDigits: string;
}

/** Formula 1 — SALE, RECURRING_SALE, DEBIT. */
export function saleHash({ email = '', password, cardDigits }: CardTerms, digest?: HashDigest): string {
  return md5Hex(phpStrtoupper(concat(phpStrrev(email), password, phpStrrev(cardDigits))), digest);
}

/** Formula 1, card-token variant. */
export function saleTokenHash(
  email: string | undefined,
  password: string,
  cardToken: string,
  digest?: HashDigest,
): string {
  return md5Hex(phpStrtoupper(concat(phpStrrev(email ?? ''), password, phpStrrev(cardToken))), digest);
}

/** Formula 2 — CAPTURE, CREDITVOID, VOID, GET_TRANS_STATUS, GET_TRANS_DETAILS and callbacks;
 * the e-mail and card are those of the original payment. */
export function transactionHash(
  { email = '', password, cardDigits }: CardTerms,
  transId: string,
  digest?: HashDigest,
): string {
  return md5Hex(phpStrtoupper(concat(phpStrrev(email), password, transId, phpStrrev(cardDigits))), digest);
}

/** Formula 3 — CREATE_SCHEDULE. */
export function createScheduleHash(password: string, digest?: HashDigest): string {
  return md5Hex(phpStrtoupper(phpStrrev(password)), digest);
}

/** Formula 4 — the other schedule operations: strrev of the whole `schedule_id . PASSWORD`. */
export function scheduleHash(scheduleId: string, password: string, digest?: HashDigest): string {
  return md5Hex(phpStrtoupper(phpStrrev(concat(scheduleId, password))), digest);
}

/** Formula 5 — CREDIT2CARD. */
export function creditToCardHash(password: string, cardDigits: string, digest?: HashDigest): string {
  return md5Hex(phpStrtoupper(concat(password, phpStrrev(cardDigits))), digest);
}

/** Formula 6 — CREDIT2CARD callbacks and status queries. */
export function creditToCardTransactionHash(
  password: string,
  transId: string,
  cardDigits: string,
  digest?: HashDigest,
): string {
  return md5Hex(phpStrtoupper(concat(password, transId, phpStrrev(cardDigits))), digest);
}

/** Formula 7 — GET_TRANS_STATUS_BY_ORDER. */
export function orderHash(
  { email = '', password, cardDigits }: CardTerms,
  orderId: string,
  digest?: HashDigest,
): string {
  return md5Hex(phpStrtoupper(concat(phpStrrev(email), password, orderId, phpStrrev(cardDigits))), digest);
}

/** Kassa's CREATE_CHECKOUT (the hosted payment page), in the style of Formula 1 with the
 * order id in place of the card, which the merchant never sees:
 * md5(strtoupper(strrev(payer_email) . PASSWORD . strrev(order_id))). */
export function checkoutHash(email: string, password: string, orderId: string, digest?: HashDigest): string {
  return md5Hex(phpStrtoupper(concat(phpStrrev(email), password, phpStrrev(orderId))), digest);
}

/** Formula 8 (5.6.x): the e-mail and PASSWORD alone, md5(strtoupper(strrev(email) . PASSWORD)),
 * for a request that carries no card and no trans_id to sign. */
export function emailHash(email: string, password: string, digest?: HashDigest): string {
  return md5Hex(phpStrtoupper(concat(phpStrrev(email), password)), digest);
}

/** Case-insensitive, constant-time comparison of two hex digests. */
export function hashesMatch(expectedHex: string, receivedHex: string): boolean {
  const expected = Buffer.from(expectedHex.toLowerCase(), 'utf8');
  const received = Buffer.from(receivedHex.toLowerCase(), 'utf8');
  if (expected.length !== received.length) {
    // Still spend the same comparison time so a length probe learns nothing more.
    timingSafeEqual(expected, expected);
    return false;
  }
  return timingSafeEqual(expected, received);
}
