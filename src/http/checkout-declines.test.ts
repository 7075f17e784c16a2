import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AcquirerConnector, Decision } from '../acquirers/connector.ts';
import { checkoutRequestFields, hiddenInputsOf } from '../testing/checkout.ts';
import { startTestPlatform, type TestPlatform } from '../testing/harness.ts';

/**
 * The hosted page explains a decline by what the connector says of its own text
 * (explainDecline), not by the test engine's texts: a bank's words reach the cardholder as the
 * right message in their language.
 */

const bankText = 'Fonds insuffisants (51)';
const approved: Decision = { outcome: 'approved' };

function bank(explains: boolean): AcquirerConnector {
  const explainDecline = (reason: string) => (reason === bankText ? 'insufficientFunds' as const : undefined);
  return {
    name: 'bank', sideEffectFree: true, requiredParameters: [],
    ...(explains ? { explainDecline } : {}),
    authorize: async () => ({ outcome: 'declined', declineReason: bankText }),
    completeChallenge: async () => approved,
    capture: async () => approved,
    refund: async () => approved,
    reverse: async () => approved,
    void: async () => approved,
  };
}

let explaining: TestPlatform;
let silent: TestPlatform;
before(async () => {
  explaining = await startTestPlatform({ acquirer: bank(true) });
  silent = await startTestPlatform({ acquirer: bank(false) });
});
after(async () => {
  await explaining.close();
  await silent.close();
});

/** Creates a checkout, pays on its page with an ordinary card and returns the result page. */
async function payAndReadResult(platform: TestPlatform, language: string): Promise<string> {
  const created = await platform.post(checkoutRequestFields(platform.merchant));
  const path = new URL(created.body.redirect_url).pathname;
  const form = await platform.app.inject({ method: 'GET', url: `${path}?lang=${language}` });
  const fields = {
    form_token: hiddenInputsOf(form.body).form_token, lang: language,
    card_number: '5555 5555 5555 4444', cardholder_name: 'JOHN DOE', expiry: '12/30', cvv: '123',
  };
  const paid = await platform.app.inject({
    method: 'POST', url: path, headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams(fields).toString(),
  });
  assert.equal(paid.statusCode, 303);
  const result = await platform.app.inject({ method: 'GET', url: paid.headers.location as string });
  assert.equal(result.statusCode, 200);
  return result.body;
}

test('a decline the connector explains gets its own message, in the cardholder\'s language', async () => {
  const english = await payAndReadResult(explaining, 'en');
  assert.ok(english.includes('There are not enough funds on the card.'), 'insufficient-funds message');
  const russian = await payAndReadResult(explaining, 'ru');
  assert.ok(russian.includes('На карте недостаточно средств.'), 'the same in Russian');
});

test('a decline the connector cannot explain gets the neutral message', async () => {
  const body = await payAndReadResult(silent, 'en');
  assert.ok(body.includes('The bank declined the payment.'), 'neutral message');
  assert.ok(!body.includes('not enough funds'));
});
