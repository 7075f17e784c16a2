import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { runKassa, saleFields, startTestPlatform, type TestPlatform } from '../testing/harness.ts';

// Appendix C per MID (ADR 0055): a test-engine MID told it needs a parameter set refuses a SALE
// that lacks it or has a malformed value, in the validation error's shape.

let platform: TestPlatform;
before(async () => {
  platform = await startTestPlatform();
});
after(() => platform.close());

const kassa = (...args: string[]) => runKassa(platform, ...args, '--actor', 'ops@psp.test');

test('a MID needing the BNG set: missing and malformed values are 100000 field errors; a good set pays', async () => {
  const merchant = await platform.addMerchant();
  await kassa('routing', 'mid', 'create', '--name', 'needs-bng', '--setting', 'parameterSets=["BNG"]');
  await kassa('routing', 'mapping', 'set', '--client-key', merchant.clientKey, '--mids', 'needs-bng');
  const sale = (parameters: Record<string, string>) =>
    platform.post(saleFields(merchant, parameters)).then((response) => response.body);

  const missing = await sale({ 'parameters[bnrg_installm_def]': '00' });
  assert.equal(missing.result, 'ERROR');
  assert.deepEqual(missing.errors.map((error: any) => error.error_message), [
    'parameters[bnrg_installm_months]: This value should not be blank.',
    'parameters[bnrg_installm_plan]: This value should not be blank.',
  ]);
  const malformed = await sale({
    'parameters[bnrg_installm_def]': '0', 'parameters[bnrg_installm_months]': '03',
    'parameters[bnrg_installm_plan]': '03',
  });
  assert.deepEqual(malformed.errors.map((error: any) => error.error_message), [
    'parameters[bnrg_installm_def]: This value is not valid.',
  ]);
  const good = await sale({
    'parameters[bnrg_installm_def]': '00', 'parameters[bnrg_installm_months]': '03',
    'parameters[bnrg_installm_plan]': '03',
  });
  assert.equal(good.status, 'SETTLED', JSON.stringify(good));
  // The default MID needs nothing: other merchants are not affected.
  assert.equal((await platform.post(saleFields(platform.merchant))).body.status, 'SETTLED');
});

test('an unknown set name is refused when the MID is configured', async () => {
  await assert.rejects(kassa('routing', 'mid', 'create', '--name', 'bad-set', '--setting', 'parameterSets=["XYZ"]'),
    /settings\.parameterSets must list Appendix C sets \(BNG, FCP, TWD\)/);
});
