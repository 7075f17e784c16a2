import { isIP } from 'node:net';
import type { FieldError } from '../protocol/errors.ts';
import { validateCustomData, type RequestFields } from '../protocol/validation.ts';
import { refusedAddressReason } from '../workers/target-address.ts';
import type { PlatformContext } from './context.ts';

/**
 * The 5.6.x fields of the actions that start a payment (docs/adr/0075): `callback_url`, the
 * payment's own callback URL for every callback of it, and `custom_data[...]`, echoed in every
 * callback. Both absent: nothing changes (a 5.2.0 request is handled exactly as before).
 */
export interface PaymentExtras {
  callbackUrl?: string;
  customData?: Record<string, string>;
}

/** `values.callback_url` was checked by the field table (http(s) URL, 255 characters). In
 * production a literal address that the SSRF rule refuses is a field error now; a host name is
 * judged at send time by the transport, for every address it resolves to, as the merchant's
 * own URL is. Problems go to `errors`. */
export function paymentExtrasOf(
  context: Pick<PlatformContext, 'mode'>, values: Record<string, string | undefined>, fields: RequestFields,
  errors: FieldError[],
): PaymentExtras {
  const extras: PaymentExtras = {};
  const callbackUrl = values.callback_url;
  if (callbackUrl !== undefined) {
    const refusal = context.mode === 'production' ? literalAddressRefusal(callbackUrl) : null;
    if (refusal) errors.push({ field: 'callback_url', message: `This URL is not allowed: ${refusal}.` });
    else extras.callbackUrl = callbackUrl;
  }
  const customData = validateCustomData(fields, errors);
  if (customData !== undefined && Object.keys(customData).length > 0) extras.customData = customData;
  return extras;
}

function literalAddressRefusal(url: string): string | null {
  let hostname: string;
  try {
    hostname = new URL(url).hostname.replace(/^\[|\]$/g, '');
  } catch {
    return null;
  }
  if (hostname === 'localhost' || hostname.endsWith('.localhost')) return 'a loopback address';
  if (isIP(hostname) === 0) return null;
  return refusedAddressReason(hostname);
}
