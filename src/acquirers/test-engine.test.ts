import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Secret } from '../domain/secret.ts';
import { isCardExpired } from '../domain/card.ts';
import type { AuthorizationRequest, Decision, FollowUpRequest } from './connector.ts';
import { TestEngineConnector, declineReasons, specTestCardBehaviour } from './test-engine.ts';

/** "Now" for every test: the spec's 2025 test-card dates are all in the past. */
const nowMs = Date.UTC(2026, 10, 23);
const engine = new TestEngineConnector();

function authorization(cardNumber: string, expiryMonth: number, expiryYear: number, capture = true): AuthorizationRequest {
  return {
    transId: '0193a3c1-0000-7000-8000-000000000001',
    card: { number: new Secret(cardNumber), expiryMonth, expiryYear, cvv: new Secret('000') },
    amountMinor: 199,
    currency: 'USD',
    capture,
    threeDsEnabled: false,
    parameters: {},
    nowMs,
  };
}

function followUp(cardNumber: string, expiryMonth: number, expiryYear: number): FollowUpRequest {
  return {
    transId: '0193a3c1-0000-7000-8000-000000000001',
    card: { bin: cardNumber.slice(0, 6), lastFour: cardNumber.slice(-4), expiryMonth, expiryYear },
    amountMinor: 199,
    currency: 'USD',
    nowMs,
  };
}

const approved: Decision = { outcome: 'approved' };
const declined = (declineReason: string): Decision => ({ outcome: 'declined', declineReason });

const specCard = '4111111111111111';

/** The spec's table (2025/2026) and the same rows moved to 2038/2039 by later versions. */
const specRows: Array<[month: number, year: number, authorize: Decision, capture: Decision]> = [
  [1, 2025, approved, approved],
  [2, 2025, declined(declineReasons.declinedByProcessing), approved],
  [3, 2025, approved, declined(declineReasons.captureDeclined)],
  [5, 2025, approved, approved],
  [6, 2025, declined(declineReasons.declinedByProcessing), approved],
  [12, 2025, approved, approved],
  [12, 2026, declined(declineReasons.declinedByProcessing), approved],
  [1, 2038, approved, approved],
  [2, 2038, declined(declineReasons.declinedByProcessing), approved],
  [3, 2038, approved, declined(declineReasons.captureDeclined)],
  [5, 2038, approved, approved],
  [6, 2038, declined(declineReasons.declinedByProcessing), approved],
  [12, 2038, approved, approved],
  [12, 2039, declined(declineReasons.declinedByProcessing), approved],
];

test('the exact decline texts', () => {
  assert.equal(declineReasons.declinedByProcessing, 'Declined by processing');
  assert.equal(declineReasons.captureDeclined, 'Capture declined by processing');
  assert.equal(declineReasons.insufficientFunds, 'Insufficient funds on the card. Check the balance with the bank that issued the card.');
  assert.equal(declineReasons.notEnabledOnline, 'The card is not enabled for online payments. Contact the bank that issued the card.');
  assert.equal(declineReasons.incorrectDetails, 'Card details entered incorrectly. Check the card number, expiry date and CVV2/CVC2.');
  assert.equal(declineReasons.expired, 'The card has expired. Check the expiry date on the front of the card.');
});

for (const [month, year, expectedAuthorize, expectedCapture] of specRows) {
  const expiry = `${String(month).padStart(2, '0')}/${year}`;
  test(`spec test card ${expiry}: SALE and AUTH ${expectedAuthorize.outcome}, capture ${expectedCapture.outcome}`, async () => {
    assert.deepEqual(await engine.authorize(authorization(specCard, month, year, true)), expectedAuthorize, 'SALE');
    assert.deepEqual(await engine.authorize(authorization(specCard, month, year, false)), expectedAuthorize, 'AUTH');
    assert.deepEqual(await engine.capture(followUp(specCard, month, year)), expectedCapture, 'CAPTURE');
  });
}

test('no spec row is ever declined as expired, though most of their dates are past', async () => {
  const pastRows = specRows.filter(([month, year]) => isCardExpired(month, year, nowMs));
  assert.ok(pastRows.length >= 6, 'the 2025 rows are past at nowMs');
  for (const [month, year] of specRows) {
    const decision = await engine.authorize(authorization(specCard, month, year));
    assert.notDeepEqual(decision, declined(declineReasons.expired), `${month}/${year}`);
  }
});

test('the spec card with an expiry outside the table is an ordinary card', async () => {
  assert.equal(specTestCardBehaviour('411111', '1111', 4, 2025), undefined);
  assert.deepEqual(await engine.authorize(authorization(specCard, 4, 2025)), declined(declineReasons.expired));
  assert.deepEqual(await engine.authorize(authorization(specCard, 7, 2030)), approved);
  assert.deepEqual(await engine.capture(followUp(specCard, 7, 2030)), approved);
});

test('specTestCardBehaviour names each row', () => {
  assert.equal(specTestCardBehaviour('411111', '1111', 1, 2025), 'approve');
  assert.equal(specTestCardBehaviour('411111', '1111', 2, 2025), 'decline');
  assert.equal(specTestCardBehaviour('411111', '1111', 3, 2025), 'approveThenDeclineCapture');
  assert.equal(specTestCardBehaviour('411111', '1111', 5, 2025), 'threeDsThenApprove');
  assert.equal(specTestCardBehaviour('411111', '1111', 6, 2025), 'threeDsThenDecline');
  assert.equal(specTestCardBehaviour('411111', '1111', 12, 2025), 'redirectThenApprove');
  assert.equal(specTestCardBehaviour('411111', '1111', 12, 2026), 'redirectThenDecline');
  assert.equal(specTestCardBehaviour('555555', '4444', 1, 2025), undefined);
});

const refusalCards: Array<[string, string]> = [
  ['4000000000009995', declineReasons.insufficientFunds],
  ['4000000000000002', declineReasons.notEnabledOnline],
  ['4000000000000127', declineReasons.incorrectDetails],
  ['4000000000000069', declineReasons.expired],
];

for (const [cardNumber, reason] of refusalCards) {
  test(`refusal card ${cardNumber} is declined with its reason, whatever the expiry`, async () => {
    for (const [month, year] of [[12, 2030], [1, 2025], [11, 2026]] as const) {
      assert.deepEqual(await engine.authorize(authorization(cardNumber, month, year, true)), declined(reason), `${month}/${year} SALE`);
      assert.deepEqual(await engine.authorize(authorization(cardNumber, month, year, false)), declined(reason), `${month}/${year} AUTH`);
    }
  });
}

test('an ordinary Luhn-valid card with a past expiry is declined as expired', async () => {
  assert.deepEqual(await engine.authorize(authorization('5555555555554444', 10, 2026)), declined(declineReasons.expired));
  assert.deepEqual(await engine.authorize(authorization('5555555555554444', 1, 2025)), declined(declineReasons.expired));
  assert.deepEqual(await engine.authorize(authorization('4000000000000010', 12, 2020)), declined(declineReasons.expired));
});

test('an ordinary card is approved through the last day of its expiry month', async () => {
  assert.deepEqual(await engine.authorize(authorization('5555555555554444', 11, 2026)), approved);
  assert.deepEqual(await engine.authorize(authorization('5555555555554444', 12, 2030)), approved);
  assert.deepEqual(await engine.authorize(authorization('378282246310005', 1, 2027, false)), approved);
});

test('follow-ups on ordinary cards are approved', async () => {
  const request = followUp('5555555555554444', 12, 2030);
  assert.deepEqual(await engine.capture(request), approved);
  assert.deepEqual(await engine.refund(), approved);
  assert.deepEqual(await engine.reverse(), approved);
  assert.deepEqual(await engine.void(), approved);
});

test('the engine is side-effect free unless told to record PREPARE', () => {
  assert.equal(new TestEngineConnector().sideEffectFree, true);
  assert.equal(new TestEngineConnector({ recordPrepare: true }).sideEffectFree, false);
  assert.deepEqual(engine.requiredParameters, []);
});

test('transfers: a CREDIT2CARD card without expiry is judged by number only; a CARD2CARD payee refusal card declines', async () => {
  assert.deepEqual(await engine.authorize({ ...authorization('5555555555554444', 0, 0), action: 'CREDIT2CARD' }), approved);
  assert.deepEqual(await engine.authorize({ ...authorization('4000000000009995', 0, 0), action: 'CREDIT2CARD' }),
    declined(declineReasons.insufficientFunds));
  assert.deepEqual(
    await engine.authorize({ ...authorization(specCard, 1, 2025), action: 'CARD2CARD', payeeCardNumber: new Secret('4000000000000002') }),
    declined(declineReasons.declinedByProcessing));
  assert.deepEqual(
    await engine.authorize({ ...authorization(specCard, 1, 2025), action: 'CARD2CARD', payeeCardNumber: new Secret('5555555555554444') }),
    approved);
});

test('explainDecline names the kind of each refusal text the engine gives, and no other', () => {
  assert.equal(engine.explainDecline(declineReasons.insufficientFunds), 'insufficientFunds');
  assert.equal(engine.explainDecline(declineReasons.notEnabledOnline), 'notEnabledOnline');
  assert.equal(engine.explainDecline(declineReasons.incorrectDetails), 'incorrectDetails');
  assert.equal(engine.explainDecline(declineReasons.expired), 'expired');
  const cardholderSteps = [
    declineReasons.threeDsFailed, declineReasons.threeDsExpired, declineReasons.redirectCancelled,
  ];
  for (const reason of cardholderSteps) {
    assert.equal(engine.explainDecline(reason), 'cardholderStep', reason);
  }
  assert.equal(engine.explainDecline(declineReasons.declinedByProcessing), undefined);
  assert.equal(engine.explainDecline('Something a bank said'), undefined);
});
