import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SimulatedBankConnector } from '../testing/simulated-bank.ts';
import type { AcquirerConnector, AuthorizationRequest, Decision } from './connector.ts';
import { conformanceCard, conformanceChecks, runConnectorConformance, type ConformanceTarget } from './conformance.ts';
import { TestEngineConnector } from './test-engine.ts';

const specCard = '4111111111111111';
const cards = {
  approved: conformanceCard(specCard, 1, 2038),
  declined: conformanceCard(specCard, 2, 2038),
  threeDs: conformanceCard(specCard, 5, 2038),
};

const engine = new TestEngineConnector();
runConnectorConformance({ name: 'test engine', connect: () => engine, faultsInjectable: false, cards });

const bank = new SimulatedBankConnector();
runConnectorConformance({
  name: 'simulated bank (in-process faults)',
  connect: (fault) => {
    bank.fault = fault;
    return bank;
  },
  faultsInjectable: true,
  cards,
});

/** A connector that breaks the contract the way real ones do: a timeout or an unreadable answer
 * becomes a decline. */
class DecliningOnErrorConnector extends SimulatedBankConnector {
  override async authorize(request: AuthorizationRequest) {
    try {
      return await super.authorize(request);
    } catch {
      return { outcome: 'declined', declineReason: 'Timeout' } as Decision;
    }
  }
}

test('the suite fails a connector that turns an unknown outcome into a decline', async () => {
  const broken = new DecliningOnErrorConnector();
  const target: ConformanceTarget = {
    name: 'broken',
    faultsInjectable: true,
    cards,
    connect: (fault) => {
      broken.fault = fault;
      return broken;
    },
  };
  const failing: string[] = [];
  for (const check of conformanceChecks()) {
    await check.run(target).catch(() => failing.push(check.name.split(':')[0]));
  }
  assert.deepEqual(failing, ['timeout', 'malformed answer', 'unknown outcome, then inquiry']);
});

test('the suite fails a connector with side effects that cannot answer a status inquiry', async () => {
  const withoutInquiry: AcquirerConnector = Object.assign(Object.create(engine) as AcquirerConnector, {
    sideEffectFree: false,
  });
  const declares = conformanceChecks()[0];
  await assert.rejects(
    declares.run({ name: 'no inquiry', faultsInjectable: true, cards, connect: () => withoutInquiry }),
    /inquiries/,
  );
});
