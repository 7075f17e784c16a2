// ISO 4217 minor unit exponents. Codes whose minor unit is "N.A." (XAU, XDR, XSU, XTS, XXX, ...)
// are left out: they cannot carry a card amount.
const exponentGroups: ReadonlyArray<readonly [number, readonly string[]]> = [
  [0, ['BIF', 'CLP', 'DJF', 'GNF', 'ISK', 'JPY', 'KMF', 'KRW', 'PYG', 'RWF', 'UGX', 'UYI', 'VND', 'VUV', 'XAF', 'XOF', 'XPF']],
  [3, ['BHD', 'IQD', 'JOD', 'KWD', 'LYD', 'OMR', 'TND']],
  [4, ['CLF', 'UYW']],
  [2, [
    'AED', 'AFN', 'ALL', 'AMD', 'AOA', 'ARS', 'AUD', 'AWG', 'AZN',
    'BAM', 'BBD', 'BDT', 'BGN', 'BMD', 'BND', 'BOB', 'BOV', 'BRL', 'BSD', 'BTN', 'BWP', 'BYN', 'BZD',
    'CAD', 'CDF', 'CHE', 'CHF', 'CHW', 'CNY', 'COP', 'COU', 'CRC', 'CUP', 'CVE', 'CZK',
    'DKK', 'DOP', 'DZD', 'EGP', 'ERN', 'ETB', 'EUR', 'FJD', 'FKP',
    'GBP', 'GEL', 'GHS', 'GIP', 'GMD', 'GTQ', 'GYD',
    'HKD', 'HNL', 'HTG', 'HUF', 'IDR', 'ILS', 'INR', 'IRR', 'JMD',
    'KES', 'KGS', 'KHR', 'KPW', 'KYD', 'KZT',
    'LAK', 'LBP', 'LKR', 'LRD', 'LSL',
    'MAD', 'MDL', 'MGA', 'MKD', 'MMK', 'MNT', 'MOP', 'MRU', 'MUR', 'MVR', 'MWK', 'MXN', 'MXV', 'MYR', 'MZN',
    'NAD', 'NGN', 'NIO', 'NOK', 'NPR', 'NZD', 'PAB', 'PEN', 'PGK', 'PHP', 'PKR', 'PLN', 'QAR',
    'RON', 'RSD', 'RUB', 'SAR', 'SBD', 'SCR', 'SDG', 'SEK', 'SGD', 'SHP', 'SLE', 'SOS', 'SRD', 'SSP', 'STN', 'SVC', 'SYP', 'SZL',
    'THB', 'TJS', 'TMT', 'TOP', 'TRY', 'TTD', 'TWD', 'TZS',
    'UAH', 'USD', 'USN', 'UYU', 'UZS', 'VED', 'VES', 'WST',
    'XCD', 'XCG', 'YER', 'ZAR', 'ZMW', 'ZWG',
    // Withdrawn 2024-2025 (replaced by XCG, SLE, ZWG; CUC retired) but still seen during the changeover.
    'ANG', 'CUC', 'SLL', 'ZWL',
  ]],
];

export const currencyExponents: ReadonlyMap<string, number> = new Map(
  exponentGroups.flatMap(([exponent, codes]) => codes.map((code) => [code, exponent] as const)),
);

export function currencyExponent(code: string): number | undefined {
  // Exact match only: silently upper-casing would hide malformed merchant input.
  if (!/^[A-Z]{3}$/.test(code)) return undefined;
  return currencyExponents.get(code);
}

// The S2S CARD spec requires these zero-exponent currencies to be sent as "XX.XX" with
// zero decimals (e.g. "100.00"), unlike other zero-exponent currencies sent as integers.
export const currenciesSentWithTwoDecimals: ReadonlySet<string> = new Set(['UGX', 'JPY', 'KRW', 'CLP']);
