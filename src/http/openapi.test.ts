import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Validator } from '@seriousme/openapi-schema-validator';
import { actionFieldTables, customDataActions, type ActionName } from '../protocol/action-fields.ts';
import { protocolErrors } from '../protocol/errors.ts';
import { messages } from '../protocol/validation.ts';
import { startTestPlatform, type TestPlatform } from '../testing/harness.ts';
import { servedActions } from './api.ts';

let platform: TestPlatform;
let document: any;
before(async () => {
  platform = await startTestPlatform();
  const response = await platform.app.inject({ method: 'GET', url: '/openapi.json' });
  assert.equal(response.statusCode, 200);
  assert.match(String(response.headers['content-type']), /^application\/json/);
  document = response.json();
});
after(() => platform.close());

test('/openapi.json is a valid OpenAPI 3.1 document (checked by a validator library)', async () => {
  const validator = new Validator();
  const result = await validator.validate(structuredClone(document));
  assert.deepEqual(result.errors, undefined);
  assert.equal(result.valid, true);
  assert.equal(validator.version, '3.1');
  assert.equal(document.servers[0].url, 'http://kassa.test');
  const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
  assert.equal(document.info.version, version);
  assert.deepEqual(Object.keys(document.paths), ['/post', '/payment/post', '/v2/post']);
});

test('the document describes exactly the actions the API serves, each field as its table has it', () => {
  assert.deepEqual([...servedActions].sort(), Object.keys(actionFieldTables).sort());
  const sale = document.components.schemas.SALERequest;
  assert.deepEqual(sale.properties.order_id, { type: 'string', maxLength: 255 });
  assert.deepEqual(sale.properties.card_token, { type: 'string', minLength: 64, maxLength: 64 });
  assert.deepEqual(sale.properties.req_token, { type: 'string', enum: ['Y', 'N'] });
  assert.equal(sale.properties.term_url_3ds.format, 'uri');
  // 5.6.x: callback_url from the tables, custom_data on exactly the actions that start a payment.
  assert.deepEqual(sale.properties.callback_url, {
    type: 'string', format: 'uri', pattern: '^https?://', maxLength: 255,
  });
  const withCustomData = Object.keys(actionFieldTables).filter(
    (action) => document.components.schemas[`${action}Request`].properties.custom_data !== undefined);
  assert.deepEqual(withCustomData.sort(), [...customDataActions].sort());
  assert.equal(sale.properties.custom_data.additionalProperties.maxLength, 255);
  for (const action of Object.keys(actionFieldTables) as ActionName[]) {
    const schema = document.components.schemas[`${action}Request`];
    assert.deepEqual(schema.properties.action, { const: action });
    const notInTables = ['action', 'client_key', 'parameters', 'custom_data'];
    const described = Object.keys(schema.properties).filter((name) => !notInTables.includes(name));
    assert.deepEqual(described, Object.keys(actionFieldTables[action]), action);
  }
});

test('what the server calls blank in an empty request of each action is what the document requires', async () => {
  for (const action of Object.keys(actionFieldTables) as ActionName[]) {
    const { body } = await platform.post({ action, client_key: platform.merchant.clientKey });
    assert.equal(body.error_code, 100000, `${action}: ${JSON.stringify(body)}`);
    const blank = body.errors
      .map((error: { error_message: string }) => error.error_message)
      .filter((message: string) => message.endsWith(`: ${messages.blank}`))
      .map((message: string) => message.slice(0, message.indexOf(':')));
    const required = document.components.schemas[`${action}Request`].required.filter(
      (name: string) => name !== 'action' && name !== 'client_key',
    );
    assert.deepEqual(blank, required, action);
  }
});

test('the error registry is in the document: every code, name and message', () => {
  const listed = document['x-errors'].map((entry: any) => `${entry.code} ${entry.name} ${entry.message}`);
  const registry = Object.entries(protocolErrors).map(([name, entry]) => `${entry.code} ${name} ${entry.message}`);
  assert.deepEqual(listed, registry);
  const codes = new Set(Object.values(protocolErrors).map((entry) => entry.code));
  assert.deepEqual(new Set(document.components.schemas.ErrorAnswer.properties.error_code.enum), codes);
});
