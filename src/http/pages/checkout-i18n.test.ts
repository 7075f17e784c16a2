import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkoutCatalogue } from './checkout-i18n.ts';
import { refusalMessage } from './checkout-pages.ts';
import { languages } from './i18n.ts';

const placeholders = (text: string) => [...text.matchAll(/\{(\w+)\}/g)].map((match) => match[1]).sort();

test('every language has every checkout message, translated, with the same placeholders', () => {
  const keys = Object.keys(checkoutCatalogue.en).sort();
  for (const language of languages) {
    assert.deepEqual(Object.keys(checkoutCatalogue[language]).sort(), keys, language);
    for (const key of keys) {
      assert.deepEqual(placeholders(checkoutCatalogue[language][key]), placeholders(checkoutCatalogue.en[key]), `${language}.${key}`);
    }
  }
  assert.notEqual(checkoutCatalogue.ru.refusalExpired, checkoutCatalogue.en.refusalExpired);
  assert.notEqual(checkoutCatalogue.kk.refusalExpired, checkoutCatalogue.ru.refusalExpired);
  assert.ok(languages.includes('uz'), 'Uzbek is one of the languages checked above');
  assert.notEqual(checkoutCatalogue.uz.refusalExpired, checkoutCatalogue.kk.refusalExpired);
});

test('each kind of refusal the connector names has its own message', () => {
  const kinds = [
    'notEnabledOnline', 'insufficientFunds', 'incorrectDetails', 'expired', 'cardholderStep', 'other',
  ] as const;
  assert.equal(new Set(kinds.map(refusalMessage)).size, kinds.length);
  assert.equal(refusalMessage('other'), 'refusalOther');
  assert.equal(refusalMessage('cardholderStep'), 'refusalThreeDs');
});
