import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkoutLanguages } from '../../operations/checkout.ts';
import { chooseLanguage, issuerCatalogue, languageNames, languages, translate } from './i18n.ts';

const placeholders = (text: string) => [...text.matchAll(/\{(\w+)\}/g)].map((match) => match[1]).sort();

test('?lang= wins, then Accept-Language by weight, then English', () => {
  assert.equal(chooseLanguage('kk', 'ru-RU'), 'kk');
  assert.equal(chooseLanguage(undefined, 'ru-RU,ru;q=0.9,en;q=0.8'), 'ru');
  assert.equal(chooseLanguage(undefined, 'de-DE, en;q=0.5, kk;q=0.9'), 'kk');
  assert.equal(chooseLanguage('xx', 'de'), 'en');
  assert.equal(chooseLanguage(undefined, undefined), 'en');
  assert.equal(chooseLanguage(undefined, 'ru;q=0'), 'en');
  assert.equal(chooseLanguage('uz', 'ru-RU'), 'uz');
  assert.equal(chooseLanguage(undefined, 'uz-Latn-UZ,uz;q=0.9,ru;q=0.8'), 'uz');
  assert.equal(chooseLanguage(undefined, 'de, ru;q=0.5, uz;q=0.7'), 'uz');
});

test('every language has every message, with the same placeholders', () => {
  const keys = Object.keys(issuerCatalogue.en).sort();
  for (const language of languages) {
    assert.deepEqual(Object.keys(issuerCatalogue[language]).sort(), keys, language);
    for (const key of keys) {
      assert.deepEqual(placeholders(issuerCatalogue[language][key]), placeholders(issuerCatalogue.en[key]), `${language}.${key}`);
    }
    const text = translate(language, 'wrongCode', { count: 2 });
    assert.match(text, /2/);
    assert.ok(!text.includes('{'), language);
    assert.match(translate(language, 'threeDsIntro', { phone: '+7 *** ** 47' }), /\+7 \*\*\* \*\* 47/);
    assert.ok(languageNames[language], language);
  }
  assert.ok(languages.includes('uz'));
  assert.notEqual(translate('ru', 'confirm'), translate('en', 'confirm'));
  assert.notEqual(translate('kk', 'confirm'), translate('ru', 'confirm'));
  assert.notEqual(translate('uz', 'confirm'), translate('kk', 'confirm'));
});

test('CREATE_CHECKOUT accepts exactly the languages the pages speak', () => {
  assert.deepEqual([...checkoutLanguages], [...languages]);
});
