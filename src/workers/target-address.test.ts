import { test } from 'node:test';
import assert from 'node:assert/strict';
import { refusedAddressReason } from './target-address.ts';

test('loopback, private, link-local and unique-local targets are refused with the reason', () => {
  const expectations: Array<[string, RegExp]> = [
    ['127.0.0.1', /loopback/], ['127.5.6.7', /loopback/], ['::1', /loopback/], ['::ffff:127.0.0.1', /loopback/],
    ['10.1.2.3', /private/], ['172.16.0.1', /private/], ['172.31.255.255', /private/], ['192.168.1.1', /private/],
    ['::ffff:10.0.0.1', /private/], ['169.254.169.254', /link-local/], ['fe80::1', /link-local/],
    ['fc00::1', /unique-local/], ['fd12:3456::1', /unique-local/], ['0.0.0.0', /unspecified/], ['::', /unspecified/],
  ];
  for (const [address, reason] of expectations) assert.match(refusedAddressReason(address) ?? 'allowed', reason, address);
});

test('public addresses are allowed', () => {
  for (const address of ['93.184.216.34', '8.8.8.8', '172.32.0.1', '2606:4700:4700::1111', '::ffff:8.8.8.8']) {
    assert.equal(refusedAddressReason(address), null, address);
  }
});
