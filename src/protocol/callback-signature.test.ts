import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { signCallback, verifyCallback } from './callback-signature.ts';

const password = '13a4822c5907ed235f3a068c76184fc3';
const email = 'doe@example.com';
const transId = '0193a2b4-5c6d-7e8f-9a0b-1c2d3e4f5a6b';
const fields = {
  action: 'SALE', result: 'SUCCESS', status: 'SETTLED', order_id: 'ORDER-1', trans_id: transId,
  card: '411111******1111', card_expiration_date: '01/2025', amount: '1.99', currency: 'USD',
};

/** Formula 2 written out independently, the way a PHP merchant would compute it. */
function formulaTwoByHand(): string {
  const reverse = (text: string) => [...text].reverse().join('');
  return createHash('md5').update(`${reverse(email)}${password}${transId}${reverse('4111111111')}`.toUpperCase()).digest('hex');
}

test('signCallback adds the Formula 2 hash over trans_id, whatever form the card is given in', () => {
  const expected = formulaTwoByHand();
  for (const card of ['4111111111111111', '4111111111', '411111******1111']) {
    const signed = signCallback(fields, { password, email, cardNumberOrDigits: card });
    assert.equal(signed.hash, expected, card);
    assert.equal(signed.trans_id, transId);
  }
});

test('verifyCallback accepts the signed callback, upper-case hashes too, and uses the card mask when no card is given', () => {
  const signed = signCallback(fields, { password, email, cardNumberOrDigits: '4111111111111111' });
  assert.equal(verifyCallback(signed, { password, email, card: '4111111111111111' }), true);
  assert.equal(verifyCallback(signed, { password, email }), true);
  assert.equal(verifyCallback({ ...signed, hash: signed.hash.toUpperCase() }, { password, email }), true);
});

test('verifyCallback refuses a wrong password, e-mail, card, trans_id, or a missing hash', () => {
  const signed = signCallback(fields, { password, email, cardNumberOrDigits: '4111111111111111' });
  assert.equal(verifyCallback(signed, { password: `${password}x`, email }), false);
  assert.equal(verifyCallback(signed, { password, email: 'other@example.com' }), false);
  assert.equal(verifyCallback(signed, { password, email, card: '5555555555554444' }), false);
  assert.equal(verifyCallback({ ...signed, trans_id: `${transId.slice(0, -1)}c` }, { password, email }), false);
  const { hash: _hash, ...unsigned } = signed;
  assert.equal(verifyCallback(unsigned, { password, email }), false);
  assert.equal(verifyCallback({ ...signed, hash: '' }, { password, email }), false);
});

test('CREDIT2CARD callbacks are signed with Formula 6 (no e-mail)', () => {
  const credit = { ...fields, action: 'CREDIT2CARD' };
  const signed = signCallback(credit, { password, email, cardNumberOrDigits: '4111111111111111' });
  const expected = createHash('md5').update(`${password}${transId}1111111114`.toUpperCase()).digest('hex');
  assert.equal(signed.hash, expected);
  assert.equal(verifyCallback(signed, { password }), true);
});

test('signing replaces a stale hash instead of keeping it', () => {
  const signed = signCallback({ ...fields, hash: 'stale' }, { password, email, cardNumberOrDigits: '4111111111' });
  assert.equal(signed.hash, formulaTwoByHand());
});
