import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Secret } from '../domain/secret.ts';
import type {
  AcquirerConnector,
  AuthorizationAnswer,
  AuthorizationRequest,
  CardForAuthorization,
  Decision,
  FollowUpRequest,
} from './connector.ts';

/**
 * The connector conformance suite: what every connector must do, checked the same way for each
 * (docs/connectors.md). A connector's test file calls `runConnectorConformance(target)`; the
 * checks are also exported one by one (`conformanceChecks`) so a test can prove they catch a
 * connector that breaks the contract.
 */

/** How the connector's transport misbehaves for one check. */
export type TransportFault =
  /** Everything works. */
  | 'none'
  /** The bank takes the request and never answers. */
  | 'noAnswer'
  /** Nothing listens where the bank should be: the request never leaves. */
  | 'refused'
  /** The bank answers correctly, slower than usual but within the connector's answer timeout. */
  | 'slowAnswer'
  /** The bank answers something that is not its protocol (an HTML error page, half a body). */
  | 'malformedAnswer'
  /** The bank carries the request out and the answer is lost on the way back. */
  | 'answerLost';

export const transportFaults: readonly TransportFault[] = [
  'noAnswer',
  'refused',
  'slowAnswer',
  'malformedAnswer',
  'answerLost',
];

export interface ConformanceCards {
  /** Approved without a cardholder step. */
  approved: CardForAuthorization;
  /** Declined by the bank. */
  declined: CardForAuthorization;
  /** Asks for 3-D Secure when `threeDsEnabled`; absent when the bank has no 3-D Secure. */
  threeDs?: CardForAuthorization;
}

export interface ConformanceTarget {
  /** Shown in the tests' names. */
  name: string;
  /**
   * The connector, talking to the same bank every time, with its transport misbehaving as
   * `fault` says. Without `faultsInjectable` only 'none' is asked for.
   */
  connect(fault: TransportFault): Promise<AcquirerConnector> | AcquirerConnector;
  /** false for a connector with no transport (the test engine, in-process): the transport
   * checks are skipped, and the connector must then declare itself side-effect free. */
  faultsInjectable: boolean;
  cards: ConformanceCards;
  /** A currency and amount the bank accepts; 1000 minor units of EUR unless given. */
  currency?: string;
  amountMinor?: number;
  /** The bound the suite puts on one call, past which a connector counts as hanging (its own
   * answer timeout must be shorter). 10 s unless given. */
  callBoundMs?: number;
  /** Before the suite's first check (start the bank) and after its last. */
  before?(): Promise<void>;
  after?(): Promise<void>;
}

export interface ConformanceCheck {
  name: string;
  /** Transport checks need `faultsInjectable`; the others run for every connector. */
  needsFaults: boolean;
  run(target: ConformanceTarget): Promise<void>;
}

/** What a call ended in: a value, an error (an unknown outcome to the platform), or nothing in time. */
type Settled<T> = { kind: 'answered'; value: T } | { kind: 'threw'; error: unknown } | { kind: 'hung' };

async function settle<T>(call: () => Promise<T>, boundMs: number): Promise<Settled<T>> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<Settled<T>>((resolve) => {
    timer = setTimeout(() => resolve({ kind: 'hung' }), boundMs);
  });
  const settled = (async (): Promise<Settled<T>> => {
    try {
      return { kind: 'answered', value: await call() };
    } catch (error) {
      return { kind: 'threw', error };
    }
  })();
  try {
    return await Promise.race([settled, hung]);
  } finally {
    clearTimeout(timer);
  }
}

let sequence = 0;

/** The payer of every request of the suite, as a merchant would send it. */
const conformancePayer = {
  payer_first_name: 'Ada',
  payer_last_name: 'Lovelace',
  payer_address: '12 Analytical Street',
  payer_country: 'GB',
  payer_city: 'London',
  payer_zip: 'N1 9GU',
  payer_email: 'ada@kassa.test',
  payer_phone: '442071234567',
  payer_ip: '127.0.0.1',
};

/** Ids unique per run, so checks against one bank never meet each other's transactions. */
function freshIds(): { transId: string; operationId: string } {
  sequence += 1;
  const stamp = `${process.pid.toString(16)}${Date.now().toString(16)}${sequence.toString(16)}`.padStart(24, '0');
  return {
    transId: `c0f0${stamp.slice(-20)}-0000-7000-8000-000000000001`,
    operationId: `c0f1${stamp.slice(-20)}-0000-7000-8000-000000000002`,
  };
}

function authorization(
  target: ConformanceTarget,
  card: CardForAuthorization,
  options: Partial<AuthorizationRequest> = {},
) {
  const ids = freshIds();
  return {
    transId: ids.transId,
    operationId: ids.operationId,
    card,
    amountMinor: target.amountMinor ?? 1000,
    currency: target.currency ?? 'EUR',
    capture: true,
    threeDsEnabled: false,
    parameters: {},
    nowMs: Date.now(),
    action: 'SALE',
    payer: conformancePayer,
    ...options,
  } satisfies AuthorizationRequest;
}

function followUpOf(request: AuthorizationRequest, amountMinor = request.amountMinor): FollowUpRequest {
  const pan = request.card.number.reveal();
  return {
    transId: request.transId,
    operationId: freshIds().operationId,
    card: {
      bin: pan.slice(0, 6),
      lastFour: pan.slice(-4),
      expiryMonth: request.card.expiryMonth,
      expiryYear: request.card.expiryYear,
    },
    amountMinor,
    currency: request.currency,
    payerEmail: conformancePayer.payer_email,
    nowMs: Date.now(),
  };
}

async function answered<T>(what: string, target: ConformanceTarget, call: () => Promise<T>): Promise<T> {
  const result = await settle(call, target.callBoundMs ?? 10_000);
  if (result.kind === 'hung')
    assert.fail(`${what}: no answer within the suite's bound (a connector bounds its own waits)`);
  if (result.kind === 'threw') assert.fail(`${what} threw: ${String(result.error)}`);
  return result.value;
}

function assertNoCardData(text: string, card: CardForAuthorization, where: string): void {
  const pan = card.number.reveal();
  assert.ok(!text.includes(pan), `${where} contains the card number`);
  const cvv = card.cvv.reveal();
  if (cvv.length >= 3)
    assert.ok(!text.includes(`cvv ${cvv}`) && !text.includes(`cvv=${cvv}`), `${where} contains the CVV`);
}

function assertDeclined(answer: AuthorizationAnswer | Decision, card: CardForAuthorization, what: string): string {
  assert.equal(answer.outcome, 'declined', `${what}: expected a decline, got ${answer.outcome}`);
  const reason = (answer as { declineReason: string }).declineReason;
  assert.ok(typeof reason === 'string' && reason.trim().length > 0, `${what}: a decline says why`);
  assertNoCardData(reason, card, `${what}'s decline_reason`);
  return reason;
}

/** An unknown outcome is a rejection (or a call that the platform's bound cuts off): never an
 * approval the bank did not give, never a decline the bank did not give. */
function assertUnknown(result: Settled<unknown>, card: CardForAuthorization, what: string): void {
  if (result.kind === 'answered') {
    const outcome = (result.value as { outcome?: string }).outcome;
    assert.fail(`${what}: the bank's answer is not known, but the connector said ${outcome} (it must throw)`);
  }
  if (result.kind === 'threw') assertNoCardData(String(result.error), card, `${what}'s error`);
}

const checks: ConformanceCheck[] = [
  {
    name: 'declares itself: a name, its side effects, its Appendix C parameter sets, its decline codes',
    needsFaults: false,
    async run(target) {
      const connector = await target.connect('none');
      assert.ok(connector.name.trim().length > 0, 'a connector has a name');
      assert.ok(Array.isArray(connector.requiredParameters), 'requiredParameters is a list');
      for (const action of connector.actions ?? ['SALE', 'DEBIT', 'CREDIT2CARD', 'CARD2CARD']) {
        const parameters = connector.requiredParametersFor?.(action) ?? [];
        assert.ok(
          Array.isArray(parameters) && parameters.every((name) => typeof name === 'string'),
          `parameters of ${action}`,
        );
      }
      if (!connector.sideEffectFree) {
        assert.equal(typeof connector.inquire, 'function', 'a connector with side effects answers status inquiries');
      }
      if (!target.faultsInjectable) {
        assert.ok(connector.sideEffectFree, 'a connector whose transport cannot be tested must have no side effects');
      }
      for (const [code, entry] of Object.entries(connector.declineCodes ?? {})) {
        assert.ok(entry.declineReason.trim().length > 0, `decline code ${code} has a reason`);
        assert.equal(
          connector.explainDecline?.(entry.declineReason) ?? 'other',
          entry.explanation,
          `decline code ${code}`,
        );
      }
    },
  },
  {
    name: 'approve: SALE approved, then refunded and voided; AUTH approved, captured, reversed',
    needsFaults: false,
    async run(target) {
      const connector = await target.connect('none');
      const sale = authorization(target, target.cards.approved);
      assert.equal((await answered('authorize', target, () => connector.authorize(sale))).outcome, 'approved');
      const refund = await answered('refund', target, () => connector.refund(followUpOf(sale, 1)));
      assert.equal(refund.outcome, 'approved', 'a partial refund of an approved SALE');
      const other = authorization(target, target.cards.approved);
      assert.equal((await answered('authorize', target, () => connector.authorize(other))).outcome, 'approved');
      const voided = await answered('void', target, () => connector.void(followUpOf(other)));
      assert.equal(voided.outcome, 'approved');
      const auth = authorization(target, target.cards.approved, { capture: false, action: 'SALE' });
      assert.equal((await answered('authorize (AUTH)', target, () => connector.authorize(auth))).outcome, 'approved');
      assert.equal((await answered('capture', target, () => connector.capture(followUpOf(auth)))).outcome, 'approved');
      const held = authorization(target, target.cards.approved, { capture: false });
      assert.equal((await answered('authorize (AUTH)', target, () => connector.authorize(held))).outcome, 'approved');
      assert.equal((await answered('reverse', target, () => connector.reverse(followUpOf(held)))).outcome, 'approved');
    },
  },
  {
    name: 'decline: a reason without card data, which explainDecline classifies without failing',
    needsFaults: false,
    async run(target) {
      const connector = await target.connect('none');
      const request = authorization(target, target.cards.declined);
      const answer = await answered('authorize', target, () => connector.authorize(request));
      const reason = assertDeclined(answer, target.cards.declined, 'authorize');
      const explanation = connector.explainDecline?.(reason) ?? 'other';
      assert.ok(
        ['insufficientFunds', 'notEnabledOnline', 'incorrectDetails', 'expired', 'cardholderStep', 'other'].includes(
          explanation,
        ),
      );
    },
  },
  {
    name: '3-D Secure: a challenge, then approved when the cardholder passes and declined when not',
    needsFaults: false,
    async run(target) {
      const card = target.cards.threeDs;
      if (!card) return;
      const connector = await target.connect('none');
      for (const cardholderPassed of [true, false]) {
        const request = authorization(target, card, { threeDsEnabled: true });
        const answer = await answered('authorize', target, () => connector.authorize(request));
        assert.equal(answer.outcome, 'challenge', 'the 3-D Secure card asks for the cardholder');
        const kind = (answer as { kind: '3DS' | 'REDIRECT' }).kind;
        const decision: Decision = await answered('completeChallenge', target, () =>
          connector.completeChallenge({
            transId: request.transId,
            kind,
            card,
            amountMinor: request.amountMinor,
            currency: request.currency,
            capture: true,
            cardholderPassed,
            nowMs: Date.now(),
          }),
        );
        if (cardholderPassed) assert.equal(decision.outcome, 'approved', 'the cardholder passed');
        else assertDeclined(decision, card, 'a failed 3-D Secure step');
      }
    },
  },
  {
    name: "timeout: a bank that never answers is an unknown outcome, within the connector's own bound",
    needsFaults: true,
    async run(target) {
      const connector = await target.connect('noAnswer');
      const request = authorization(target, target.cards.approved);
      const result = await settle(() => connector.authorize(request), target.callBoundMs ?? 10_000);
      assert.notEqual(result.kind, 'hung', 'the connector bounds its own wait for an answer');
      assertUnknown(result, target.cards.approved, 'authorize without an answer');
    },
  },
  {
    name: 'connection refused: declined (nothing was sent) or unknown, never approved, never hanging',
    needsFaults: true,
    async run(target) {
      const connector = await target.connect('refused');
      const request = authorization(target, target.cards.approved);
      const result = await settle(() => connector.authorize(request), target.callBoundMs ?? 10_000);
      assert.notEqual(result.kind, 'hung', 'a refused connection answers at once');
      if (result.kind === 'answered')
        assertDeclined(result.value, target.cards.approved, 'authorize, connection refused');
      else if (result.kind === 'threw') assertNoCardData(String(result.error), target.cards.approved, 'the error');
    },
  },
  {
    name: "slow answer: an answer late but within the connector's timeout is still the bank's decision",
    needsFaults: true,
    async run(target) {
      const connector = await target.connect('slowAnswer');
      const approved = await answered('authorize', target, () =>
        connector.authorize(authorization(target, target.cards.approved)),
      );
      assert.equal(approved.outcome, 'approved');
      const declined = await answered('authorize', target, () =>
        connector.authorize(authorization(target, target.cards.declined)),
      );
      assertDeclined(declined, target.cards.declined, 'a slow decline');
    },
  },
  {
    name: 'malformed answer: an unknown outcome (the bank may have acted), never a decline or an approval',
    needsFaults: true,
    async run(target) {
      const connector = await target.connect('malformedAnswer');
      const request = authorization(target, target.cards.approved);
      const result = await settle(() => connector.authorize(request), target.callBoundMs ?? 10_000);
      assert.notEqual(result.kind, 'hung');
      assertUnknown(result, target.cards.approved, 'authorize with a malformed answer');
      const captured = await settle(() => connector.capture(followUpOf(request)), target.callBoundMs ?? 10_000);
      assertUnknown(captured, target.cards.approved, 'capture with a malformed answer');
    },
  },
  {
    name: 'unknown outcome, then inquiry: the answer lost, the status inquiry tells what the bank did',
    needsFaults: true,
    async run(target) {
      const lossy = await target.connect('answerLost');
      const sale = authorization(target, target.cards.approved);
      const declinedSale = authorization(target, target.cards.declined);
      for (const request of [sale, declinedSale]) {
        const lost = await settle(() => lossy.authorize(request), target.callBoundMs ?? 10_000);
        assertUnknown(lost, request.card, 'authorize whose answer was lost');
      }
      const connector = await target.connect('none');
      assert.ok(connector.inquire, 'a connector with a transport answers status inquiries');
      const inquire = (request: AuthorizationRequest) =>
        answered('inquire', target, () =>
          connector.inquire!({
            transId: request.transId,
            operationId: request.operationId!,
            operationType: 'SALE',
            card: followUpOf(request).card,
            payerEmail: conformancePayer.payer_email,
            amountMinor: request.amountMinor,
            currency: request.currency,
            nowMs: Date.now(),
          }),
        );
      assert.equal((await inquire(sale)).outcome, 'approved', 'the bank approved the SALE whose answer was lost');
      assertDeclined((await inquire(declinedSale)) as Decision, declinedSale.card, 'the inquiry of a declined SALE');
      const never = authorization(target, target.cards.approved);
      const unseen = await inquire(never);
      assert.equal(unseen.outcome, 'unknown', 'a transaction the bank never saw is unknown, not declined');
    },
  },
];

/** The checks, for tests of the suite itself. */
export function conformanceChecks(): readonly ConformanceCheck[] {
  return checks;
}

/** Registers the suite as node:test tests for one connector. */
export function runConnectorConformance(target: ConformanceTarget): void {
  describe(`connector conformance: ${target.name}`, () => {
    if (target.before) before(() => target.before!());
    if (target.after) after(() => target.after!());
    for (const check of checks) {
      const skip =
        check.needsFaults && !target.faultsInjectable ? 'an in-process connector has no transport to fail' : false;
      test(check.name, { skip }, () => check.run(target));
    }
  });
}

/** A card for the suite's targets. */
export function conformanceCard(
  number: string,
  expiryMonth: number,
  expiryYear: number,
  cvv = '123',
): CardForAuthorization {
  return { number: new Secret(number), expiryMonth, expiryYear, cvv: new Secret(cvv) };
}
