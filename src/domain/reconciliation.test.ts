import assert from 'node:assert/strict';
import { test } from 'node:test';
import { notReceivedDeclineReason, notReceivedVerdict, type NotReceivedFacts } from './reconciliation.ts';

const minuteMs = 60_000;
const base: NotReceivedFacts = {
  operationType: 'SALE', createdAtMs: 1_000_000, nowMs: 1_000_000 + 16 * minuteMs, graceMs: 15 * minuteMs,
  midChangedAtMs: 500_000,
};

test('an authorization the bank never got, past the grace, with the same MID settings: declined', () => {
  for (const operationType of ['SALE', 'AUTH', 'DEBIT', 'TRANSFER', 'CREDIT']) {
    assert.deepEqual(notReceivedVerdict({ ...base, operationType }), {
      kind: 'decline', declineReason: notReceivedDeclineReason,
    });
  }
  assert.equal(notReceivedVerdict({ ...base, midChangedAtMs: null }).kind, 'decline');
});

test('within the grace the request could still arrive: keep asking', () => {
  const verdict = notReceivedVerdict({ ...base, nowMs: base.createdAtMs + base.graceMs - 1 });
  assert.equal(verdict.kind, 'keepAsking');
  assert.equal(notReceivedVerdict({ ...base, nowMs: base.createdAtMs + base.graceMs }).kind, 'decline');
});

test("the MID's settings changed after the payment: an operator decides, never declined", () => {
  const verdict = notReceivedVerdict({ ...base, midChangedAtMs: base.createdAtMs + 1 });
  assert.equal(verdict.kind, 'keepAsking');
  assert.match((verdict as { reason: string }).reason, /settings changed/);
});

test('a follow-up (capture, refund, void) is never declined for being missing', () => {
  for (const operationType of ['CAPTURE', 'REFUND', 'REVERSAL', 'VOID']) {
    assert.equal(notReceivedVerdict({ ...base, operationType }).kind, 'keepAsking', operationType);
  }
});
