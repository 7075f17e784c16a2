import { cardHashPart, creditToCardTransactionHash, hashesMatch, transactionHash, type HashDigest } from './hash.ts';

/**
 * The callback `hash`, computed by one function for the platform (signing before it sends) and
 * for merchants (verifying what they receive), so the two cannot disagree. Pure.
 *
 * Appendix A: callbacks are signed with Formula 2 over `trans_id` — md5 of
 * strtoupper(strrev(email) . PASSWORD . trans_id . strrev(first6 . last4)) — with the e-mail and
 * card of the original payment. CREDIT2CARD callbacks use Formula 6 (no e-mail). The spec's VOID
 * table points at a "Void signature" that Appendix A never defines; Formula 2 is what live
 * platforms send for VOID, so VOID is signed like the other actions.
 */

export type CallbackFields = Record<string, unknown>;

export interface SigningTerms {
  /** The merchant's PASSWORD. */
  password: string;
  /** `payer_email` of the original payment; absent or empty drops the term, as the spec says. */
  email?: string;
  /** The full card number, or its first six and last four digits already joined. */
  cardNumberOrDigits: string;
  /** The merchant's hash mode: md5 (default) or sha256. */
  digest?: HashDigest;
}

export interface VerifyingTerms {
  password: string;
  email?: string;
  /** The card number, the first six + last four digits, or a mask (`411111******1111`). When
   * absent, the callback's own `card` mask is used: it carries exactly the digits the formula
   * needs. */
  card?: string;
  /** The merchant's hash mode: md5 (default) or sha256. */
  digest?: HashDigest;
}

/** `411111******1111`, `4111111111111111` and `4111111111` all give `4111111111`. */
function cardDigitsOf(card: string): string {
  const compact = card.replace(/\s+/g, '');
  if (/^\d{10}$/.test(compact)) return compact;
  return cardHashPart(compact);
}

function transIdOf(fields: CallbackFields): string {
  const transId = fields.trans_id;
  if (typeof transId !== 'string' || transId === '') throw new TypeError('a callback needs trans_id to be signed');
  return transId;
}

/** The signature a callback with these fields carries. */
export function callbackHash(
  fields: CallbackFields,
  terms: { password: string; email?: string; cardDigits: string; digest?: HashDigest },
): string {
  const transId = transIdOf(fields);
  const { password, cardDigits, digest } = terms;
  if (fields.action === 'CREDIT2CARD') return creditToCardTransactionHash(password, transId, cardDigits, digest);
  return transactionHash({ email: terms.email ?? '', password, cardDigits }, transId, digest);
}

/** The fields with `hash` added (any `hash` already present is replaced). */
export function signCallback<T extends CallbackFields>(fields: T, terms: SigningTerms): T & { hash: string } {
  const { hash: _ignored, ...unsigned } = fields as CallbackFields;
  const cardDigits = cardDigitsOf(terms.cardNumberOrDigits);
  const hash = callbackHash(unsigned, {
    password: terms.password,
    email: terms.email,
    cardDigits,
    digest: terms.digest,
  });
  return { ...(unsigned as T), hash };
}

/** True when the callback's `hash` is the one the merchant's PASSWORD gives (constant time,
 * case-insensitive). A missing hash, trans_id or card is simply not valid. */
export function verifyCallback(fields: CallbackFields, terms: VerifyingTerms): boolean {
  const received = fields.hash;
  const card = terms.card ?? fields.card;
  const transId = fields.trans_id;
  if (typeof received !== 'string' || typeof card !== 'string' || typeof transId !== 'string' || transId === '') {
    return false;
  }
  const cardDigits = cardDigitsOf(card);
  const expected = callbackHash(fields, {
    password: terms.password,
    email: terms.email,
    cardDigits,
    digest: terms.digest,
  });
  return hashesMatch(expected, received);
}
