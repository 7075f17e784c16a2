/**
 * The sandbox's emulated card issuer (the 3-D Secure ACS behind `/emulator/acs`): its rules, kept
 * with the emulator rather than in the pages that draw it. The one-time code is fixed and shown
 * on the page as a test-mode hint; the third wrong code fails the authentication, as issuers do.
 * Where wrong codes are counted is the caller's (the challenge row, through `WrongCodeCounter`),
 * so the rules stay free of storage.
 */

/** The sandbox's one-time code, shown on the emulated issuer page as a test-mode hint. */
export const sandboxOneTimeCode = '123456';

/** Wrong codes allowed: the third wrong code declines. */
export const wrongCodesMax = 3;

/** Counts one more wrong code for a transaction and answers how many there have been. */
export type WrongCodeCounter = (transId: string) => Promise<number>;

/** What the issuer makes of a code the cardholder typed. */
export type CodeVerdict =
  /** Not six digits: asked again, nothing counted. */
  | { outcome: 'malformed' }
  | { outcome: 'wrong'; attemptsLeft: number }
  | { outcome: 'passed' }
  /** The last allowed wrong code: the authentication failed. */
  | { outcome: 'failed' };

export async function judgeOneTimeCode(
  transId: string, typed: string, countWrongCode: WrongCodeCounter,
): Promise<CodeVerdict> {
  const code = typed.replace(/\s/g, '');
  if (!/^\d{6}$/.test(code)) return { outcome: 'malformed' };
  if (code === sandboxOneTimeCode) return { outcome: 'passed' };
  const wrongCodes = await countWrongCode(transId);
  if (wrongCodes >= wrongCodesMax) return { outcome: 'failed' };
  return { outcome: 'wrong', attemptsLeft: wrongCodesMax - wrongCodes };
}
