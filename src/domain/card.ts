/** Card number checks that need no network: Luhn, brand by BIN range, masks, expiry. */

export function isLuhnValid(digits: string): boolean {
  let sum = 0;
  let doubleIt = false;
  for (let index = digits.length - 1; index >= 0; index -= 1) {
    let digit = digits.charCodeAt(index) - 48;
    if (doubleIt) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
    doubleIt = !doubleIt;
  }
  return sum % 10 === 0;
}

export type CardBrand = 'VISA' | 'MASTERCARD' | 'MIR' | 'UNIONPAY' | 'AMEX' | 'JCB' | 'DISCOVER' | 'MAESTRO' | 'UNKNOWN';

/** Brand from the leading digits; ranges as the schemes publish them. Order matters: MIR
 * (2200–2204) before Mastercard's 2-series, UnionPay's 62 before Discover's 622126–622925. */
export function cardBrand(digits: string): CardBrand {
  const two = Number(digits.slice(0, 2));
  const four = Number(digits.slice(0, 4));
  const six = Number(digits.slice(0, 6));
  if (digits.startsWith('4')) return 'VISA';
  if (four >= 2200 && four <= 2204) return 'MIR';
  if ((two >= 51 && two <= 55) || (four >= 2221 && four <= 2720)) return 'MASTERCARD';
  if (two === 34 || two === 37) return 'AMEX';
  if (two === 62 || two === 81) return 'UNIONPAY';
  if (four >= 3528 && four <= 3589) return 'JCB';
  if (four === 6011 || two === 65 || (six >= 644000 && six <= 649999)) return 'DISCOVER';
  if (two === 50 || (two >= 56 && two <= 69)) return 'MAESTRO';
  return 'UNKNOWN';
}

/** `411111******1111`: first six and last four, the rest starred (PCI DSS 3.4 display rule). */
export function maskCardNumber(digits: string): string {
  return maskFromParts(digits.slice(0, 6), digits.slice(-4), digits.length);
}

export function maskFromParts(bin: string, lastFour: string, length: number): string {
  return `${bin}${'*'.repeat(Math.max(length - 10, 0))}${lastFour}`;
}

/** A card is valid through the last day of its expiry month (UTC). */
export function isCardExpired(month: number, year: number, nowMs: number): boolean {
  const firstDayAfterExpiryMs = Date.UTC(year, month, 1);
  return nowMs >= firstDayAfterExpiryMs;
}
