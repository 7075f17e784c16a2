import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ProtocolError, errorBody, protocolErrors } from './errors.ts';
import { messages } from './validation.ts';

const docUrl = new URL('../../docs/errors.md', import.meta.url);

/** The `| code | message | when |` rows of docs/errors.md, in document order. */
function documentedRows(): Array<{ code: number; message: string; when: string }> {
  const text = readFileSync(docUrl, 'utf8');
  return text.split(/\r?\n/)
    .filter((line) => /^\| \d/.test(line))
    .map((line) => {
      const cells = line.split('|').slice(1, -1).map((cell) => cell.trim());
      assert.equal(cells.length, 3, `a row has exactly three cells: ${line}`);
      const [codeText, message, when] = cells as [string, string, string];
      assert.match(codeText, /^\d+$/, line);
      return { code: Number(codeText), message, when };
    });
}

test('docs/errors.md lists exactly the registry, in order, with the exact messages', () => {
  const documented = documentedRows().map(({ code, message }) => ({ code, message }));
  const registered = Object.values(protocolErrors).map(({ code, message }) => ({ code, message }));
  assert.deepEqual(documented, registered);
});

test('every documented error says when it happens', () => {
  for (const row of documentedRows()) assert.ok(row.when.length >= 20, `${row.code} ${row.message}: "when" is empty or too short`);
});

test("Kassa's own codes are in the 9xxxxx range and the spec's never are", () => {
  for (const [name, entry] of Object.entries(protocolErrors)) {
    const kassaRange = entry.code >= 900000 && entry.code <= 999999;
    assert.equal(kassaRange, entry.source === 'kassa', `${name} (${entry.code}, ${entry.source})`);
  }
});

test('a code is shared only by the two entries the spec itself gives code 400', () => {
  const byCode = new Map<number, string[]>();
  for (const [name, entry] of Object.entries(protocolErrors)) byCode.set(entry.code, [...(byCode.get(entry.code) ?? []), name]);
  const shared = [...byCode].filter(([, names]) => names.length > 1);
  assert.deepEqual(shared, [[400, ['duplicateRequest', 'previousPaymentNotCompleted']]]);
});

test("the error body of a validation failure is the spec's sample shape", () => {
  const error = new ProtocolError('requestInvalid', [
    { field: 'card_number', message: messages.blank },
    { field: 'order_amount', message: messages.greaterThanZero },
  ]);
  assert.deepEqual(errorBody(error), {
    result: 'ERROR',
    error_code: 100000,
    error_message: 'Request data is invalid.',
    errors: [
      { error_code: 100000, error_message: 'card_number: This value should not be blank.' },
      { error_code: 100000, error_message: 'order_amount: This value should be greater than 0.' },
    ],
  });
});

test('an error without field problems has no errors list', () => {
  const body = errorBody(new ProtocolError('captureNotPending'));
  assert.deepEqual(body, {
    result: 'ERROR',
    error_code: 208003,
    error_message: 'Not acceptable to request the capture for payment not in pending status.',
  });
  assert.equal(JSON.stringify(body).includes('"errors"'), false);
});

test('a ProtocolError carries the registry message', () => {
  for (const name of Object.keys(protocolErrors) as Array<keyof typeof protocolErrors>) {
    const error = new ProtocolError(name);
    assert.equal(error.message, protocolErrors[name].message);
    assert.equal(errorBody(error).error_code, protocolErrors[name].code);
  }
});
