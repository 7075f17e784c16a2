import { test } from 'node:test';
import assert from 'node:assert/strict';
import { refusedAddressReason } from './target-address.ts';

/** [address, the reason shown, or null when a production callback may go there]. */
const table: Array<[string, string | null]> = [
  // IPv4, plain.
  ['8.8.8.8', null],
  ['93.184.216.34', null],
  ['172.32.0.1', null],
  ['100.128.0.1', null],
  ['198.20.0.1', null],
  ['127.0.0.1', 'a loopback address'],
  ['127.5.6.7', 'a loopback address'],
  ['10.1.2.3', 'a private address'],
  ['172.16.0.1', 'a private address'],
  ['172.31.255.255', 'a private address'],
  ['192.168.1.1', 'a private address'],
  ['100.64.0.1', 'a private (carrier-grade NAT) address'],
  ['169.254.169.254', 'a link-local address'],
  ['0.0.0.0', 'an unspecified address'],
  ['0.1.2.3', 'an unspecified address'],
  ['224.0.0.1', 'a multicast address'],
  ['255.255.255.255', 'a broadcast address'],
  ['240.0.0.1', 'a reserved or documentation address'],
  ['198.18.0.1', 'a reserved or documentation address'],
  ['198.19.255.255', 'a reserved or documentation address'],
  ['192.0.0.8', 'a reserved or documentation address'],
  ['192.0.2.1', 'a reserved or documentation address'],
  ['203.0.113.7', 'a reserved or documentation address'],
  ['192.88.99.1', 'a reserved or documentation address'],
  // IPv6, plain.
  ['2606:4700:4700::1111', null],
  ['2a00:1450:4001:80b::200e', null],
  ['::1', 'a loopback address'],
  ['::', 'an unspecified address'],
  ['fe80::1', 'a link-local address'],
  ['fe80::1%eth0', 'a link-local address'],
  ['fc00::1', 'a unique-local address'],
  ['fd12:3456::1', 'a unique-local address'],
  ['fec0::1', 'a site-local address'],
  ['feff::1', 'a site-local address'],
  ['ff02::1', 'a multicast address'],
  ['2001:db8::1', 'a reserved or documentation address'],
  ['100::1', 'a special-purpose (discard) address'],
  ['2001:2::1', 'a special-purpose (benchmarking) address'],
  // IPv4-mapped ::ffff:0:0/96.
  ['::ffff:8.8.8.8', null],
  ['::ffff:127.0.0.1', 'a loopback address (IPv4-mapped form of 127.0.0.1)'],
  ['::ffff:a00:1', 'a private address (IPv4-mapped form of 10.0.0.1)'],
  // IPv4-compatible ::/96 (deprecated), the form that used to slip through.
  ['::127.0.0.1', 'a loopback address (IPv4-compatible form of 127.0.0.1)'],
  ['::7f00:1', 'a loopback address (IPv4-compatible form of 127.0.0.1)'],
  ['::a9fe:a9fe', 'a link-local address (IPv4-compatible form of 169.254.169.254)'],
  ['::2', 'an unspecified address (IPv4-compatible form of 0.0.0.2)'],
  ['::8.8.8.8', null],
  // IPv4-translated ::ffff:0:0:0/96 (RFC 6145).
  ['::ffff:0:7f00:1', 'a loopback address (IPv4-translated form of 127.0.0.1)'],
  ['::ffff:0:808:808', null],
  // NAT64 64:ff9b::/96 by its IPv4 address; the local-use 64:ff9b:1::/48 refused as a whole.
  ['64:ff9b::7f00:1', 'a loopback address (NAT64 of 127.0.0.1)'],
  ['64:ff9b::127.0.0.1', 'a loopback address (NAT64 of 127.0.0.1)'],
  ['64:ff9b::a9fe:a9fe', 'a link-local address (NAT64 of 169.254.169.254)'],
  ['64:ff9b:0:0:0:0:c0a8:101', 'a private address (NAT64 of 192.168.1.1)'],
  ['64:ff9b::808:808', null],
  ['64:ff9b:1::a00:1', 'a local-use NAT64 address'],
  ['64:ff9b:1::808:808', 'a local-use NAT64 address'],
  // 6to4 2002::/16 by the IPv4 address in its next 32 bits.
  ['2002:7f00:1::1', 'a loopback address (6to4 of 127.0.0.1)'],
  ['2002:c0a8:101::', 'a private address (6to4 of 192.168.1.1)'],
  ['2002:a9fe:a9fe:1::5', 'a link-local address (6to4 of 169.254.169.254)'],
  ['2002:808:808::1', null],
  // Teredo 2001::/32 refused whatever it embeds (ADR 0020).
  ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'a Teredo tunnel address'],
  ['2001::1', 'a Teredo tunnel address'],
  // Not addresses at all.
  ['localhost', 'not an IP address'],
  ['', 'not an IP address'],
];

test('every address form is judged: only global unicast passes, embedded IPv4 addresses are looked inside', () => {
  const wrong = table
    .map(([address, expected]) => ({ address, expected, actual: refusedAddressReason(address) }))
    .filter(({ expected, actual }) => expected !== actual);
  assert.deepEqual(wrong, []);
});
