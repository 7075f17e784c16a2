import { randomBytes } from 'node:crypto';
import { checkoutHash } from '../protocol/hash.ts';

/** A complete, correctly signed CREATE_CHECKOUT form for a merchant. */
export function checkoutRequestFields(
  merchant: { clientKey: string; password: string }, overrides: Record<string, string> = {},
): Record<string, string> {
  const fields: Record<string, string> = {
    action: 'CREATE_CHECKOUT',
    client_key: merchant.clientKey,
    order_id: `ORDER-${randomBytes(6).toString('hex')}`,
    order_amount: '12.50',
    order_currency: 'USD',
    order_description: 'Green tea, 100 g',
    payer_email: 'doe@example.com',
    success_url: 'https://shop.test/success?order=1',
    decline_url: 'https://shop.test/declined?order=1',
    ...overrides,
  };
  if (!('hash' in overrides)) fields.hash = checkoutHash(fields.payer_email, merchant.password, fields.order_id);
  return fields;
}

/** The hidden inputs of a page, unescaped, by name. */
export function hiddenInputsOf(page: string): Record<string, string> {
  const values: Record<string, string> = {};
  for (const match of page.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) {
    values[match[1]] = match[2].replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
  }
  return values;
}
