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

test('NAT64 addresses are judged by the IPv4 address they reach; the local-use NAT64 prefix is refused', () => {
  assert.equal(refusedAddressReason('64:ff9b::7f00:1'), 'a loopback address (NAT64 of 127.0.0.1)');
  assert.equal(refusedAddressReason('64:ff9b::127.0.0.1'), 'a loopback address (NAT64 of 127.0.0.1)');
  assert.equal(refusedAddressReason('64:ff9b::a9fe:a9fe'), 'a link-local address (NAT64 of 169.254.169.254)');
  assert.equal(refusedAddressReason('64:ff9b:0:0:0:0:c0a8:101'), 'a private address (NAT64 of 192.168.1.1)');
  assert.equal(refusedAddressReason('64:ff9b::808:808'), null, '8.8.8.8 through NAT64 is public');
  assert.equal(refusedAddressReason('64:ff9b:1::a00:1'), 'a local-use NAT64 address');
});
