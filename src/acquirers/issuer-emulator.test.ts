import { test } from 'node:test';
import assert from 'node:assert/strict';
import { judgeOneTimeCode, sandboxOneTimeCode, wrongCodesMax } from './issuer-emulator.ts';

/** A counter as the challenge row keeps it: one more per call. */
function counter() {
  let wrong = 0;
  const count = async () => (wrong += 1);
  return { count, calls: () => wrong };
}

test('the sandbox code passes, with spaces ignored, and counts nothing', async () => {
  const wrong = counter();
  assert.deepEqual(await judgeOneTimeCode('t', sandboxOneTimeCode, wrong.count), { outcome: 'passed' });
  assert.deepEqual(await judgeOneTimeCode('t', ' 123 456 ', wrong.count), { outcome: 'passed' });
  assert.equal(wrong.calls(), 0);
});

test('a code that is not six digits is asked again without counting', async () => {
  const wrong = counter();
  for (const typed of ['', '12345', '1234567', '12a456']) {
    assert.deepEqual(await judgeOneTimeCode('t', typed, wrong.count), { outcome: 'malformed' }, typed);
  }
  assert.equal(wrong.calls(), 0);
});

test('wrong codes count down, and the third fails the authentication', async () => {
  assert.equal(wrongCodesMax, 3);
  const wrong = counter();
  assert.deepEqual(await judgeOneTimeCode('t', '000000', wrong.count), { outcome: 'wrong', attemptsLeft: 2 });
  assert.deepEqual(await judgeOneTimeCode('t', '000000', wrong.count), { outcome: 'wrong', attemptsLeft: 1 });
  assert.deepEqual(await judgeOneTimeCode('t', '000000', wrong.count), { outcome: 'failed' });
});
