import { BlockList, isIP } from 'node:net';

/**
 * The production SSRF rule for callbacks: a merchant-supplied URL must not make the platform
 * talk to its own host or its private network (databases, cloud metadata at 169.254.169.254,
 * admin ports). Pure: takes an address, says why it is refused or null.
 */

function blockList(entries: Array<[string, number, 'ipv4' | 'ipv6']>): BlockList {
  const list = new BlockList();
  for (const [network, prefix, family] of entries) list.addSubnet(network, prefix, family);
  return list;
}

// Order matters only for the reason shown. net.BlockList also matches IPv4-mapped IPv6
// addresses (::ffff:127.0.0.1) against the IPv4 rules.
const refusedRanges: Array<{ reason: string; list: BlockList }> = [
  { reason: 'a loopback address', list: blockList([['127.0.0.0', 8, 'ipv4'], ['::1', 128, 'ipv6']]) },
  { reason: 'a private address', list: blockList([['10.0.0.0', 8, 'ipv4'], ['172.16.0.0', 12, 'ipv4'], ['192.168.0.0', 16, 'ipv4'], ['100.64.0.0', 10, 'ipv4']]) },
  { reason: 'a link-local address', list: blockList([['169.254.0.0', 16, 'ipv4'], ['fe80::', 10, 'ipv6']]) },
  { reason: 'a unique-local address', list: blockList([['fc00::', 7, 'ipv6']]) },
  {
    reason: 'an unspecified, multicast or reserved address',
    list: blockList([['0.0.0.0', 8, 'ipv4'], ['224.0.0.0', 4, 'ipv4'], ['240.0.0.0', 4, 'ipv4'], ['::', 128, 'ipv6'], ['ff00::', 8, 'ipv6']]),
  },
];

/** NAT64 (RFC 6052): on a network with a NAT64 gateway, 64:ff9b::a.b.c.d reaches the IPv4
 * address a.b.c.d — so 64:ff9b::7f00:1 is 127.0.0.1 in disguise. The local-use prefix
 * 64:ff9b:1::/48 (RFC 8215) belongs to a private deployment and is refused as a whole. */
const nat64WellKnown = blockList([['64:ff9b::', 96, 'ipv6']]);
const nat64LocalUse = blockList([['64:ff9b:1::', 48, 'ipv6']]);

/** The eight 16-bit groups of an IPv6 address (already known to be valid). */
function ipv6Groups(address: string): number[] {
  let text = address;
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number);
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::');
  const parse = (part: string | undefined) => (part ? part.split(':').map((group) => parseInt(group, 16)) : []);
  const front = parse(head);
  const back = parse(tail);
  return tail === undefined ? front : [...front, ...Array<number>(8 - front.length - back.length).fill(0), ...back];
}

/** Why a production callback may not go to this IP address, or null when it may. */
export function refusedAddressReason(address: string): string | null {
  const family = isIP(address);
  if (family === 0) return 'not an IP address';
  const type = family === 4 ? 'ipv4' : 'ipv6';
  for (const range of refusedRanges) if (range.list.check(address, type)) return range.reason;
  if (type === 'ipv6' && nat64LocalUse.check(address, 'ipv6')) return 'a local-use NAT64 address';
  if (type === 'ipv6' && nat64WellKnown.check(address, 'ipv6')) {
    const [high, low] = ipv6Groups(address).slice(6);
    const embedded = `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
    const reason = refusedAddressReason(embedded);
    if (reason !== null) return `${reason} (NAT64 of ${embedded})`;
  }
  return null;
}
