import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chooseLanguage, languages, translate } from './i18n.ts';

test('?lang= wins, then Accept-Language by weight, then English', () => {
  assert.equal(chooseLanguage('kk', 'ru-RU'), 'kk');
  assert.equal(chooseLanguage(undefined, 'ru-RU,ru;q=0.9,en;q=0.8'), 'ru');
  assert.equal(chooseLanguage(undefined, 'de-DE, en;q=0.5, kk;q=0.9'), 'kk');
  assert.equal(chooseLanguage('xx', 'de'), 'en');
  assert.equal(chooseLanguage(undefined, undefined), 'en');
  assert.equal(chooseLanguage(undefined, 'ru;q=0'), 'en');
});

test('every language has every message, with the same placeholders', () => {
  for (const language of languages) {
    const text = translate(language, 'wrongCode', { count: 2 });
    assert.match(text, /2/);
    assert.ok(!text.includes('{'), language);
    assert.match(translate(language, 'threeDsIntro', { phone: '+7 *** ** 47' }), /\+7 \*\*\* \*\* 47/);
  }
  assert.notEqual(translate('ru', 'confirm'), translate('en', 'confirm'));
  assert.notEqual(translate('kk', 'confirm'), translate('ru', 'confirm'));
});
