import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Vault, openVault } from './vault.ts';

test('a card number round-trips and the ciphertext does not contain it', () => {
  const vault = new Vault([randomBytes(32)]);
  const ciphertext = vault.encrypt('4111111111111111');
  assert.ok(!ciphertext.includes('4111111111111111'));
  assert.ok(!ciphertext.includes('411111'));
  assert.equal(vault.decrypt(ciphertext), '4111111111111111');
  assert.notEqual(vault.encrypt('4111111111111111'), ciphertext, 'a fresh IV every time');
});

test('after rotation the new key encrypts and the old key still decrypts', () => {
  const oldKey = randomBytes(32);
  const newKey = randomBytes(32);
  const before = new Vault([oldKey]).encrypt('5555555555554444');
  const rotated = new Vault([newKey, oldKey]);
  assert.equal(rotated.decrypt(before), '5555555555554444');
  assert.ok(rotated.encrypt('x').includes(`.${rotated.currentKeyId}.`));
  assert.throws(() => new Vault([newKey]).decrypt(before), /not readable/);
});

test('tampered ciphertext is refused', () => {
  const vault = new Vault([randomBytes(32)]);
  const parts = vault.encrypt('4111111111111111').split('.');
  parts[4] = Buffer.from('4222222222222222').toString('base64url');
  assert.throws(() => vault.decrypt(parts.join('.')));
});

test('without KASSA_SECRET_KEY a key file is created once, private, and reused', () => {
  const dataDirectory = mkdtempSync(join(tmpdir(), 'kassa-vault-'));
  const first = openVault({ dataDirectory });
  const keyText = readFileSync(join(dataDirectory, 'secret.key'), 'utf8');
  const second = openVault({ dataDirectory });
  assert.equal(second.decrypt(first.encrypt('hello')), 'hello');
  assert.equal(readFileSync(join(dataDirectory, 'secret.key'), 'utf8'), keyText);
  assert.equal(statSync(join(dataDirectory, 'secret.key')).mode & 0o777, 0o600);
  assert.equal(first.fingerprint('4111111111111111'), second.fingerprint('4111111111111111'));
});

test('a malformed configured key is a clear startup error', () => {
  assert.throws(() => openVault({ dataDirectory: tmpdir(), secretKey: 'short' }), /KASSA_SECRET_KEY/);
});

test('every encryption gets its own IV, also across refills of the IV pool, and decrypts', () => {
  const vault = new Vault([randomBytes(32)]);
  const ivs = new Set<string>();
  const count = 2_000; // the pool holds 512 IVs: this crosses three refills
  for (let index = 0; index < count; index += 1) {
    const ciphertext = vault.encrypt(`4111111111111111-${index}`);
    ivs.add(ciphertext.split('.')[2]);
    if (index % 97 === 0) assert.equal(vault.decrypt(ciphertext), `4111111111111111-${index}`);
  }
  assert.equal(ivs.size, count);
});
