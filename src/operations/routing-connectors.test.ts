import { mock, test } from 'node:test';
import assert from 'node:assert/strict';
import type { StoredMid } from '../storage/routing.ts';
import type { PlatformContext } from './context.ts';
import { connectorOfMid } from './routing.ts';

function upstreamMid(updatedAtMs: number): StoredMid {
  return {
    midId: 'mid_upstream', name: 'upstream', connector: 'upstream-s2s-card', enabled: true,
    paymentTypes: ['*'], actions: ['*'], brands: ['*'], currencies: ['*'], settlementCurrency: 'USD',
    threeDsMode: 'merchant', requireDayLimit: false, limits: [],
    settings: { baseUrl: 'http://127.0.0.1:9/', clientKey: 'key' }, secretSettingsCiphertext: null, updatedAtMs,
  };
}

test('a MID changed by the operator gets a new connector; the old one is closed once calls under way are done', () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    const context = { storage: {}, acquirer: {} } as unknown as PlatformContext;
    const first = connectorOfMid(context, upstreamMid(1));
    assert.equal(connectorOfMid(context, upstreamMid(1)), first, 'the same version shares one connector (one pool)');
    const closed = mock.fn(async () => undefined);
    Object.assign(first, { close: closed });
    const second = connectorOfMid(context, upstreamMid(2));
    assert.notEqual(second, first);
    mock.timers.tick(60_000);
    assert.equal(closed.mock.callCount(), 0, 'a call still using the old pool can finish');
    mock.timers.tick(60_000);
    assert.equal(closed.mock.callCount(), 1, 'then the old pool is closed, once');
    const otherDatabase = { storage: {}, acquirer: {} } as unknown as PlatformContext;
    assert.notEqual(connectorOfMid(otherDatabase, upstreamMid(2)), second, 'connectors are per database');
  } finally {
    mock.timers.reset();
  }
});
