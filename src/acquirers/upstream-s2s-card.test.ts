import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { Secret } from '../domain/secret.ts';
import { FaultProxy, type ProxyFault } from '../testing/fault-proxy.ts';
import { startUpstreamKassa, type UpstreamKassa } from '../testing/upstream-process.ts';
import { conformanceCard, runConnectorConformance, type TransportFault } from './conformance.ts';
import type { AcquirerConnector } from './connector.ts';
import { UpstreamS2sCardConnector } from './upstream-s2s-card.ts';

// The upstream is a second, real Kassa process (its own data directory and merchant); the
// connector reaches it through a fault proxy.
let upstream: UpstreamKassa;
let proxy: FaultProxy;
let closedPortUrl: string;
const connectors = new Map<TransportFault, UpstreamS2sCardConnector>();

const proxyFaults: Record<TransportFault, ProxyFault> = {
  none: 'none',
  noAnswer: 'noAnswer',
  refused: 'none',
  slowAnswer: 'latency',
  malformedAnswer: 'malformedAfterCommit',
  answerLost: 'resetAfterCommit',
};

async function closedPort(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}/`;
}

function connectorFor(fault: TransportFault): UpstreamS2sCardConnector {
  let connector = connectors.get(fault);
  if (!connector) {
    connector = new UpstreamS2sCardConnector({
      baseUrl: fault === 'refused' ? closedPortUrl : proxy.url,
      clientKey: upstream.clientKey,
      password: new Secret(upstream.password),
      connectTimeoutMs: 2_000,
      answerTimeoutMs: 3_000,
    });
    connectors.set(fault, connector);
  }
  return connector;
}

async function connect(fault: TransportFault): Promise<AcquirerConnector> {
  proxy.fault = proxyFaults[fault];
  return connectorFor(fault);
}

const specCard = '4111111111111111';
runConnectorConformance({
  name: 'upstream S2S CARD (a second Kassa process behind a fault proxy)',
  faultsInjectable: true,
  connect,
  cards: { approved: conformanceCard(specCard, 1, 2038), declined: conformanceCard(specCard, 2, 2038) },
  callBoundMs: 15_000,
  async before() {
    upstream = await startUpstreamKassa();
    proxy = await FaultProxy.start(upstream.url);
    closedPortUrl = await closedPort();
  },
  async after() {
    for (const connector of connectors.values()) await connector.close();
    await proxy?.close();
    await upstream?.close();
  },
});

test('5xx after the upstream committed: unknown, and the inquiry finds the approval', {
  timeout: 120_000,
}, async (t) => {
  const local = await startUpstreamKassa();
  const localProxy = await FaultProxy.start(local.url);
  const connector = new UpstreamS2sCardConnector({
    baseUrl: localProxy.url,
    clientKey: local.clientKey,
    password: new Secret(local.password),
    answerTimeoutMs: 3_000,
    breakerFailureThreshold: 2,
    breakerOpenMs: 60_000,
  });
  t.after(async () => {
    await connector.close();
    await localProxy.close();
    await local.close();
  });
  const card = conformanceCard(specCard, 1, 2038);
  const request = {
    transId: '0193a3c1-0000-7000-8000-00000000a001',
    card,
    amountMinor: 1250,
    currency: 'EUR',
    capture: true,
    threeDsEnabled: false,
    parameters: {},
    nowMs: Date.now(),
    payer: {
      payer_first_name: 'Ada',
      payer_last_name: 'Lovelace',
      payer_address: '12 Analytical Street',
      payer_country: 'GB',
      payer_city: 'London',
      payer_zip: 'N1 9GU',
      payer_email: 'ada@kassa.test',
      payer_phone: '442071234567',
      payer_ip: '127.0.0.1',
    },
  };
  localProxy.fault = 'serverErrorAfterCommit';
  await assert.rejects(connector.authorize(request), /HTTP 502/);
  assert.equal(localProxy.forwarded, 1, 'the upstream got the request');
  localProxy.fault = 'none';
  const inquiry = {
    transId: request.transId,
    operationId: 'x',
    operationType: 'SALE',
    amountMinor: 1250,
    currency: 'EUR',
    nowMs: Date.now(),
    payerEmail: 'ada@kassa.test',
    card: { bin: '411111', lastFour: '1111', expiryMonth: 1, expiryYear: 2038 },
  };
  assert.deepEqual(await connector.inquire(inquiry), { outcome: 'approved' });

  // Connection resets before anything reached the upstream open the circuit: then SALE is
  // declined at once without a request (what lets routing cascade to another MID).
  localProxy.fault = 'resetBefore';
  const other = { ...request, transId: '0193a3c1-0000-7000-8000-00000000a002' };
  await assert.rejects(connector.authorize(other));
  await assert.rejects(connector.authorize(other));
  assert.equal(connector.breaker.open, true);
  const forwardedBefore = localProxy.forwarded;
  localProxy.fault = 'none';
  assert.deepEqual(await connector.authorize(other), {
    outcome: 'declined',
    declineReason: 'Acquirer temporarily unavailable',
  });
  assert.equal(localProxy.forwarded, forwardedBefore, 'an open circuit sends nothing');
});
