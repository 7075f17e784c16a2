import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  afterOutcome,
  canMove,
  claimed,
  decideCapture,
  decideChargeback,
  decideCreditvoid,
  decideRefund,
  decideReversal,
  decideVoid,
  finalStatuses,
  paymentStatuses,
  reportedStatus,
  statusTransitions,
  voidDeclineReasons,
  type AcquirerOutcome,
  type MoneyDecision,
  type Payment,
  type PaymentStatus,
} from './payment.ts';

const dayMs = 24 * 60 * 60 * 1000;
const nowMs = Date.UTC(2026, 10, 23, 10, 0, 0);

function payment(overrides: Partial<Payment> = {}): Payment {
  return {
    transId: 't1',
    merchantId: 'm1',
    orderId: 'o1',
    action: 'SALE',
    isAuth: false,
    status: 'SETTLED',
    amountMinor: 1000,
    capturedMinor: 1000,
    refundedMinor: 0,
    currency: 'USD',
    descriptor: 'SHOP',
    declineReason: null,
    payerEmail: 'a@b.test',
    payerJson: '{}',
    card: { bin: '411111', lastFour: '1111', length: 16, expiry: '01/2038', brand: 'VISA', ciphertext: 'x' },
    orderDescription: 'Order',
    channelId: null,
    parametersJson: null,
    termUrl3ds: 'https://shop.test/back',
    termUrlTarget: null,
    operationLock: null,
    settledAtMs: nowMs,
    createdAtMs: nowMs,
    updatedAtMs: nowMs,
    recurringToken: null,
    cardTokenCiphertext: null,
    scheduleId: null,
    sourceTransId: null,
    ...overrides,
  };
}

const auth = (overrides: Partial<Payment> = {}) =>
  payment({ isAuth: true, status: 'PENDING', capturedMinor: 0, settledAtMs: null, ...overrides });

test('capture: an unheld AUTH, full or partial; never more than authorized, never a SALE', () => {
  assert.deepEqual(decideCapture(auth()), { ok: true, decision: { kind: 'capture', amountMinor: 1000 } });
  assert.deepEqual(decideCapture(auth(), 400), { ok: true, decision: { kind: 'capture', amountMinor: 400 } });
  assert.deepEqual(decideCapture(auth(), 1001), { ok: false, error: 'captureTooLarge' });
  assert.deepEqual(decideCapture(payment()), { ok: false, error: 'captureNotPending' });
  assert.deepEqual(decideCapture(auth({ operationLock: 'op' })), { ok: false, error: 'captureNotPending' });
});

test('creditvoid: reversal of an AUTH in full only, refund of a settled payment in parts', () => {
  assert.deepEqual(decideCreditvoid(auth()), { ok: true, decision: { kind: 'reversal', amountMinor: 1000 } });
  assert.deepEqual(decideCreditvoid(auth(), 999), { ok: false, error: 'reversalPartial' });
  assert.deepEqual(decideCreditvoid(auth(), 1001), { ok: false, error: 'reversalTooLarge' });
  assert.deepEqual(decideCreditvoid(payment({ refundedMinor: 300 })), {
    ok: true,
    decision: { kind: 'refund', amountMinor: 700 },
  });
  assert.deepEqual(decideCreditvoid(payment({ refundedMinor: 300 }), 701), { ok: false, error: 'refundTooLarge' });
  assert.deepEqual(decideCreditvoid(payment({ status: 'DECLINED' })), { ok: false, error: 'refundNotAllowed' });
  assert.deepEqual(decideCreditvoid(payment({ action: 'CREDIT2CARD' })), { ok: false, error: 'refundNotAllowed' });
  assert.deepEqual(decideRefund(payment({ operationLock: 'void' })), { ok: false, error: 'refundNotAllowed' });
  assert.deepEqual(decideReversal(auth({ operationLock: 'capture' })), { ok: false, error: 'refundNotAllowed' });
});

test('void: settled SALE or recurring sale, unrefunded, on its financial day; otherwise a reason', () => {
  assert.deepEqual(decideVoid(payment(), nowMs, 'UTC'), { kind: 'void', amountMinor: 1000 });
  assert.deepEqual(decideVoid(payment({ action: 'DEBIT' }), nowMs, 'UTC'), {
    kind: 'refused',
    declineReason: voidDeclineReasons.notVoidable,
  });
  assert.deepEqual(decideVoid(auth(), nowMs, 'UTC'), { kind: 'refused', declineReason: voidDeclineReasons.notSettled });
  assert.deepEqual(decideVoid(payment({ refundedMinor: 1 }), nowMs, 'UTC'), {
    kind: 'refused',
    declineReason: voidDeclineReasons.refunded,
  });
  assert.deepEqual(decideVoid(payment(), nowMs + dayMs, 'UTC'), {
    kind: 'refused',
    declineReason: voidDeclineReasons.otherDay,
  });
});

test('chargeback: a settled payment, at most what is captured and not refunded', () => {
  assert.deepEqual(decideChargeback(payment({ refundedMinor: 600 })), {
    ok: true,
    decision: { kind: 'chargeback', amountMinor: 400 },
  });
  assert.deepEqual(decideChargeback(payment({ refundedMinor: 600 }), 401), { ok: false, error: 'chargebackTooLarge' });
  assert.deepEqual(decideChargeback(auth()), { ok: false, error: 'chargebackNotAllowed' });
});

test('an unknown outcome keeps the claim: the payment is reported PREPARE and cannot be captured again', () => {
  const decision = decideCapture(auth());
  assert.ok(decision.ok);
  const held = afterOutcome(
    claimed(auth(), decision.decision, 'op1'),
    decision.decision,
    { outcome: 'unknown', reason: 'timeout' },
    nowMs,
  );
  assert.equal(held.operationLock, 'op1');
  assert.equal(reportedStatus(held), 'PREPARE');
  assert.deepEqual(decideCapture(held), { ok: false, error: 'captureNotPending' });
  assert.deepEqual(decideCreditvoid(held), { ok: false, error: 'refundNotAllowed' });
  const settled = afterOutcome(held, decision.decision, { outcome: 'approved' }, nowMs);
  assert.equal(reportedStatus(settled), 'SETTLED');
  assert.equal(settled.capturedMinor, 1000);
});

test('the transition table: final statuses go nowhere, every status is listed', () => {
  assert.deepEqual(Object.keys(statusTransitions).sort(), [...paymentStatuses].sort());
  for (const status of finalStatuses) assert.deepEqual(statusTransitions[status], []);
  assert.ok(canMove('PENDING', 'SETTLED'));
  assert.ok(!canMove('REFUND', 'SETTLED'));
});

/** A random history of requests and acquirer answers, some unknown and finished later. */
type Step =
  | {
      kind: 'capture' | 'creditvoid' | 'void' | 'chargeback';
      amountMinor?: number;
      outcome: AcquirerOutcome['outcome'];
    }
  | { kind: 'finish'; index: number; approved: boolean };

const stepArbitrary: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    kind: fc.constantFrom('capture' as const, 'creditvoid' as const, 'void' as const, 'chargeback' as const),
    amountMinor: fc.option(fc.integer({ min: 1, max: 1200 }), { nil: undefined }),
    outcome: fc.constantFrom('approved' as const, 'declined' as const, 'unknown' as const),
  }),
  fc.record({ kind: fc.constant('finish' as const), index: fc.nat(), approved: fc.boolean() }),
);

function decide(
  current: Payment,
  step: Step & { kind: 'capture' | 'creditvoid' | 'void' | 'chargeback' },
): MoneyDecision | undefined {
  if (step.kind === 'void') {
    const decision = decideVoid(current, nowMs, 'UTC');
    return decision.kind === 'void' ? decision : undefined;
  }
  const decided =
    step.kind === 'capture'
      ? decideCapture(current, step.amountMinor)
      : step.kind === 'creditvoid'
        ? decideCreditvoid(current, step.amountMinor)
        : decideChargeback(current, step.amountMinor);
  return decided.ok ? decided.decision : undefined;
}

test('no history of decisions and outcomes over-refunds, captures twice or leaves a final status', () => {
  fc.assert(
    fc.property(fc.boolean(), fc.array(stepArbitrary, { maxLength: 30 }), (isAuth, steps) => {
      let current = isAuth ? auth() : payment();
      let approvedCaptures = 0;
      let refundedForReal = 0;
      const waiting: { decision: MoneyDecision; operationId: string }[] = [];
      const check = (before: PaymentStatus) => {
        assert.ok(current.refundedMinor <= current.capturedMinor, 'refunded or reserved more than captured');
        assert.ok(refundedForReal <= current.capturedMinor);
        assert.ok(current.capturedMinor <= current.amountMinor);
        assert.ok(approvedCaptures <= 1, 'captured twice');
        if (before !== current.status) assert.ok(canMove(before, current.status), `${before} → ${current.status}`);
      };
      for (const [stepIndex, step] of steps.entries()) {
        const before = current.status;
        if (step.kind === 'finish') {
          if (waiting.length === 0) continue;
          const [held] = waiting.splice(step.index % waiting.length, 1);
          const outcome: AcquirerOutcome = step.approved
            ? { outcome: 'approved' }
            : { outcome: 'declined', declineReason: 'no' };
          if (step.approved && held.decision.kind === 'capture') approvedCaptures += 1;
          if (step.approved && held.decision.kind === 'refund') refundedForReal += held.decision.amountMinor;
          const otherRefunds = waiting.some((other) => other.decision.kind === 'refund');
          current = afterOutcome(current, held.decision, outcome, nowMs, otherRefunds);
          check(before);
          continue;
        }
        const decision = decide(current, step);
        if (!decision) continue;
        const operationId = `op${stepIndex}`;
        current = claimed(current, decision, operationId);
        if (decision.kind === 'chargeback') {
          current = afterOutcome(current, decision, { outcome: 'approved' }, nowMs);
          check(before);
          continue;
        }
        const outcome: AcquirerOutcome =
          step.outcome === 'declined'
            ? { outcome: 'declined', declineReason: 'no' }
            : step.outcome === 'unknown'
              ? { outcome: 'unknown', reason: 'timeout' }
              : { outcome: 'approved' };
        if (outcome.outcome === 'unknown') waiting.push({ decision, operationId });
        if (outcome.outcome === 'approved' && decision.kind === 'capture') approvedCaptures += 1;
        if (outcome.outcome === 'approved' && decision.kind === 'refund') refundedForReal += decision.amountMinor;
        const otherRefunds = waiting.some(
          (other) => other.decision.kind === 'refund' && other.operationId !== operationId,
        );
        current = afterOutcome(current, decision, outcome, nowMs, otherRefunds);
        check(before);
      }
    }),
    { numRuns: 2000 },
  );
});
