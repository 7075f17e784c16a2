import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { messages, validateFields, validateParameters, type FieldRule, type RequestFields } from './validation.ts';
import { saleFields } from './action-fields.ts';
import type { FieldError } from './errors.ts';

function check(fields: RequestFields, rules: Record<string, FieldRule>) {
  const errors: FieldError[] = [];
  const values = validateFields(fields, rules, errors);
  return { values, errors };
}

/** The errors for one value under one rule. */
function problemsOf(value: unknown, rule: FieldRule): string[] {
  return check({ field: value }, { field: rule }).errors.map((error) => error.message);
}

const accepted = (value: string, rule: FieldRule) => assert.deepEqual(problemsOf(value, rule), [], JSON.stringify(value));
const refused = (value: string, rule: FieldRule, message: string) =>
  assert.deepEqual(problemsOf(value, rule), [message], JSON.stringify(value));

test('Symfony message texts', () => {
  assert.equal(messages.blank, 'This value should not be blank.');
  assert.equal(messages.notString, 'This value should be of type string.');
  assert.equal(messages.tooLong(32), 'This value is too long. It should have 32 characters or less.');
  assert.equal(messages.tooLong(1), 'This value is too long. It should have 1 character or less.');
  assert.equal(messages.wrongLength(64), 'This value should have exactly 64 characters.');
  assert.equal(messages.greaterThanZero, 'This value should be greater than 0.');
});

test('an empty SALE lists every required field as blank, all at once, in table order', () => {
  const { values, errors } = check({}, saleFields);
  const rules: Record<string, FieldRule> = saleFields;
  const required = Object.entries(rules).filter(([, rule]) => rule.required).map(([field]) => field);
  assert.deepEqual(errors, required.map((field) => ({ field, message: messages.blank })));
  assert.ok(errors.some((error) => error.field === 'card_number'));
  assert.ok(!errors.some((error) => error.field === 'payer_middle_name'), 'optional fields are not blank errors');
  assert.deepEqual(values, {});
});

test('problems of different kinds are collected together, in table order', () => {
  const rules: Record<string, FieldRule> = {
    a: { required: true },
    b: { check: 'email' },
    c: { required: true, maxLength: 3 },
    d: { check: 'yesNo' },
    e: { required: true },
  };
  const { values, errors } = check({ e: 'fine', d: 'maybe', c: 'long', b: 'nope', a: '' }, rules);
  assert.deepEqual(errors, [
    { field: 'a', message: messages.blank },
    { field: 'b', message: messages.email },
    { field: 'c', message: messages.tooLong(3) },
    { field: 'd', message: messages.choice },
  ]);
  assert.deepEqual(values, { e: 'fine' });
});

test('non-string values get the type message, even for optional fields', () => {
  for (const value of [{ x: '1' }, ['1'], 12, true, null]) {
    assert.deepEqual(problemsOf(value, { required: true }), [messages.notString], JSON.stringify(value));
    assert.deepEqual(problemsOf(value, {}), [messages.notString], JSON.stringify(value));
  }
  const { values } = check({ order_id: { nested: 'x' } }, { order_id: { required: true } });
  assert.equal(values.order_id, undefined);
});

test('an empty string is blank when required and simply absent when optional', () => {
  assert.deepEqual(problemsOf('', { required: true }), [messages.blank]);
  assert.deepEqual(problemsOf('', { check: 'email' }), []);
  assert.deepEqual(check({ f: '' }, { f: {} }).values, {});
});

test('values are returned as sent, not trimmed', () => {
  assert.deepEqual(check({ f: '  padded  ' }, { f: { required: true } }).values, { f: '  padded  ' });
});

test('payer_ip: IPv4 and IPv6 accepted, malformed refused', () => {
  const rule = saleFields.payer_ip;
  for (const ip of ['192.168.0.1', '8.8.8.8', '::1', '2001:db8::1', '2001:0db8:0000:0000:0000:ff00:0042:8329', '::ffff:1.2.3.4']) accepted(ip, rule);
  for (const ip of ['999.1.1.1', '1.2.3', '1.2.3.4.5', ' 1.2.3.4', 'localhost', '2001:db8::g1', '01.2.3.4']) refused(ip, rule, messages.ip);
});

test('payer_country: ISO 3166-1 alpha-2 in upper case', () => {
  const rule = saleFields.payer_country;
  for (const code of ['US', 'KZ', 'DE', 'RU', 'JP', 'GB']) accepted(code, rule);
  for (const code of ['USA', 'us', 'U', 'ZZ', 'XX', 'AA', 'QM', '12', 'U1']) refused(code, rule, messages.country);
});

test('currency: ISO 4217 codes with an exponent', () => {
  const rule = saleFields.order_currency;
  for (const code of ['USD', 'JPY', 'KWD', 'CLF', 'KZT']) accepted(code, rule);
  for (const code of ['usd', 'US', 'XAU', 'ABC', 'USDT']) refused(code, rule, messages.currency);
});

test('payer_birth_date: real calendar dates only', () => {
  const rule = saleFields.payer_birth_date;
  for (const date of ['2024-02-29', '2000-02-29', '1990-12-31', '2023-01-01']) accepted(date, rule);
  for (const date of ['2023-02-29', '1900-02-29', '2024-13-01', '2024-00-10', '2024-04-31', '2024-1-1', '01.02.2024', '2024-02-29T00:00:00']) {
    refused(date, rule, messages.date);
  }
});

test('term_url_3ds: http(s) URLs only', () => {
  const rule = saleFields.term_url_3ds;
  for (const url of ['https://shop.example/return', 'http://shop.example:8080/r?x=1', 'https://localhost']) accepted(url, rule);
  for (const url of ['shop.example/return', 'ftp://shop.example/', 'javascript:alert(1)', 'file:///etc/passwd', 'https://', 'https://shop example/', '//shop.example/']) {
    refused(url, rule, messages.url);
  }
});

test('payer_email: a plausible address', () => {
  const rule = saleFields.payer_email;
  for (const email of ['doe@example.com', 'd.o+e@sub.example.co.uk', 'почта@пример.рф']) accepted(email, rule);
  for (const email of ['doe', 'doe@example', '@example.com', 'doe@ex ample.com', 'a@b@c.com']) refused(email, rule, messages.email);
});

test('yes/no, month, year, cvv and card number formats', () => {
  accepted('Y', saleFields.auth);
  accepted('N', saleFields.auth);
  refused('y', saleFields.auth, messages.choice);
  refused('YES', saleFields.auth, messages.choice);
  accepted('01', saleFields.card_exp_month);
  accepted('12', saleFields.card_exp_month);
  for (const month of ['1', '00', '13', '1a']) refused(month, saleFields.card_exp_month, messages.invalid);
  accepted('2025', saleFields.card_exp_year);
  for (const year of ['25', '20255']) refused(year, saleFields.card_exp_year, messages.invalid);
  accepted('000', saleFields.card_cvv2);
  accepted('1234', saleFields.card_cvv2);
  for (const cvv of ['12', '12345', '12a']) refused(cvv, saleFields.card_cvv2, messages.invalid);
  accepted('4111111111111111', saleFields.card_number);
  for (const pan of ['4111111111111112', '4111 1111 1111 1111', '41111111111', '41111111111111111111']) {
    refused(pan, saleFields.card_number, messages.cardNumber);
  }
});

test('order_amount: digits with an optional fraction; the currency rules come later', () => {
  for (const amount of ['1.99', '10', '0.00', '100.9999']) accepted(amount, saleFields.order_amount);
  for (const amount of ['-1', '1e3', '1,00', ' 1', '.5']) refused(amount, saleFields.order_amount, messages.invalid);
});

test('length limits count characters, not bytes or UTF-16 units', () => {
  const rule = saleFields.payer_first_name;
  assert.equal(rule.maxLength, 32);
  accepted('Ж'.repeat(32), rule);
  refused('Ж'.repeat(33), rule, messages.tooLong(32));
  accepted('a'.repeat(32), rule);
  refused('a'.repeat(33), rule, messages.tooLong(32));
  // Astral characters (two UTF-16 units each) are one character each, as mb_strlen counts them.
  accepted('😀'.repeat(32), rule);
  refused('😀'.repeat(33), rule, messages.tooLong(32));
});

test('property: maxLength accepts exactly the strings of at most that many characters', () => {
  fc.assert(fc.property(fc.string({ unit: 'grapheme-composite', maxLength: 40 }), fc.integer({ min: 1, max: 40 }), (text, limit) => {
    fc.pre(text !== '');
    const problems = problemsOf(text, { maxLength: limit });
    const length = [...text].length;
    assert.deepEqual(problems, length > limit ? [messages.tooLong(limit)] : []);
  }));
});

test('exact length: card_token must be 64 characters', () => {
  accepted('a'.repeat(64), saleFields.card_token);
  refused('a'.repeat(63), saleFields.card_token, messages.wrongLength(64));
  refused('a'.repeat(65), saleFields.card_token, messages.wrongLength(64));
});

test('a length problem is reported once, instead of the format problem', () => {
  const rule: FieldRule = { maxLength: 5, check: 'email' };
  assert.deepEqual(problemsOf('a@b.example', rule), [messages.tooLong(5)]);
});

test('validateParameters: an object of strings', () => {
  const errors: FieldError[] = [];
  assert.deepEqual(validateParameters({ parameters: { param1: 'value1', param2: '' } }, errors), { param1: 'value1', param2: '' });
  assert.deepEqual(errors, []);
});

test('validateParameters: absent or empty means none', () => {
  const errors: FieldError[] = [];
  assert.equal(validateParameters({}, errors), undefined);
  assert.equal(validateParameters({ parameters: '' }, errors), undefined);
  assert.deepEqual(errors, []);
});

test('validateParameters: a plain string or a list is not a key/value object', () => {
  for (const parameters of ['value', ['a', 'b'], 7]) {
    const errors: FieldError[] = [];
    assert.equal(validateParameters({ parameters }, errors), undefined);
    assert.deepEqual(errors, [{ field: 'parameters', message: messages.parameters }], JSON.stringify(parameters));
  }
});

test('validateParameters: a nested object is refused for that key, the others kept', () => {
  const errors: FieldError[] = [];
  const parameters = validateParameters({ parameters: { ok: 'yes', deep: { inner: 'x' } } }, errors);
  assert.deepEqual(parameters, { ok: 'yes' });
  assert.deepEqual(errors, [{ field: 'parameters[deep]', message: messages.invalid }]);
});

test('validateParameters: over-long keys and values are refused', () => {
  const errors: FieldError[] = [];
  const longKey = 'k'.repeat(65);
  const parameters = validateParameters({ parameters: { [longKey]: 'v', fine: 'v'.repeat(1024), big: 'v'.repeat(1025) } }, errors);
  assert.deepEqual(parameters, { fine: 'v'.repeat(1024) });
  assert.deepEqual(errors, [
    { field: `parameters[${'k'.repeat(64)}]`, message: messages.invalid },
    { field: 'parameters[big]', message: messages.invalid },
  ]);
});

test('codes that ICU names but ISO 3166-1 does not list are not countries', () => {
  for (const code of ['EU', 'UN', 'SU', 'YU', 'XA', 'QO', 'AC', 'ZZ']) {
    const errors: { field: string; message: string }[] = [];
    validateFields({ payer_country: code }, { payer_country: { check: 'country' } }, errors);
    assert.equal(errors.length, 1, code);
  }
  for (const code of ['US', 'KZ', 'UZ', 'RU', 'DE', 'QA']) {
    const errors: { field: string; message: string }[] = [];
    validateFields({ payer_country: code }, { payer_country: { check: 'country' } }, errors);
    assert.equal(errors.length, 0, code);
  }
});

test('a URL must name its scheme with // so a browser cannot read it as a relative link', () => {
  const errors: { field: string; message: string }[] = [];
  validateFields({ term_url_3ds: 'https:shop.example/return' }, { term_url_3ds: { check: 'url' } }, errors);
  assert.deepEqual(errors, [{ field: 'term_url_3ds', message: 'This value is not a valid URL.' }]);
});

test('birth dates in the first century are real dates', () => {
  const errors: { field: string; message: string }[] = [];
  validateFields({ payer_birth_date: '0050-01-01' }, { payer_birth_date: { check: 'date' } }, errors);
  assert.deepEqual(errors, []);
});
