import type { PlatformContext } from './context.ts';

export interface Redirect {
  url: string;
  method: 'POST' | 'GET';
  params: Record<string, string>;
}

/** The platform's TermUrl for one transaction: a signed path, so it cannot be forged for
 * another payment; one-time because only a payment still in 3DS can complete. */
export function termUrlOf(context: PlatformContext, transId: string): string {
  return `${context.publicBaseUrl}/verify/3ds/${transId}/${context.vault.sign('term-url', transId)}`;
}

/** PaReq handed to the emulated issuer: the transaction id, signed. */
export function paReqOf(context: PlatformContext, transId: string): string {
  return Buffer.from(`${transId}.${context.vault.sign('pareq', transId)}`).toString('base64');
}

export function transIdFromPaReq(context: PlatformContext, paReq: string): string | undefined {
  const [transId, signature] = Buffer.from(paReq, 'base64').toString('utf8').split('.');
  return transId && signature && context.vault.verify('pareq', transId, signature) ? transId : undefined;
}

/** PaRes from the emulated issuer back to the TermUrl: who and whether the cardholder passed. */
export function paResOf(context: PlatformContext, transId: string, passed: boolean): string {
  const body = `${transId}.${passed ? 'Y' : 'N'}`;
  return Buffer.from(`${body}.${context.vault.sign('pares', body)}`).toString('base64');
}

export function readPaRes(context: PlatformContext, paRes: string): { transId: string; passed: boolean } | undefined {
  const [transId, verdict, signature] = Buffer.from(paRes, 'base64').toString('utf8').split('.');
  if (!transId || (verdict !== 'Y' && verdict !== 'N') || !signature) return undefined;
  return context.vault.verify('pares', `${transId}.${verdict}`, signature) ? { transId, passed: verdict === 'Y' } : undefined;
}

export function redirectPageUrlOf(context: PlatformContext, transId: string): string {
  return `${context.publicBaseUrl}/emulator/redirect/${transId}/${context.vault.sign('redirect', transId)}`;
}

/**
 * Where the merchant sends the cardholder. 3-D Secure: POST to the emulated issuer (ACS) with
 * PaReq, MD and TermUrl, as the spec's example. REDIRECT: GET to the emulated payment provider
 * page, no parameters (the spec: redirect_params may be missing with GET; Kassa sends `[]`).
 */
export function challengeRedirect(context: PlatformContext, transId: string, kind: '3DS' | 'REDIRECT'): Redirect {
  if (kind === '3DS') {
    return {
      url: `${context.publicBaseUrl}/emulator/acs`,
      method: 'POST',
      params: { PaReq: paReqOf(context, transId), MD: transId, TermUrl: termUrlOf(context, transId) },
    };
  }
  return { url: redirectPageUrlOf(context, transId), method: 'GET', params: {} };
}

/** 3-D Secure pass-through (a bank that runs the step itself): where the bank sends the
 * cardholder back. Signed per transaction; it finishes the payment by asking the bank, then
 * sends the cardholder on to the merchant's exact term_url_3ds. */
export function bankReturnUrlOf(context: PlatformContext, transId: string): string {
  return `${context.publicBaseUrl}/return/bank/${transId}/${context.vault.sign('bank-return', transId)}`;
}
