import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

/**
 * The production SSRF rule for callbacks: a merchant-supplied URL must not make the platform
 * talk to its own host or its private network (databases, cloud metadata at 169.254.169.254,
 * admin ports). Pure: takes an address, says why it is refused or null.
 *
 * Only what ipaddr.js classifies as `unicast` (global) passes; its registry of special-purpose
 * ranges (RFC 6890 and successors) replaces hand-written lists. IPv6 forms that carry an IPv4
 * address are judged by that IPv4 address, since a translator or tunnel on the path delivers the
 * packet there (docs/adr/0020-ssrf-guard-classifies-with-ipaddr.md).
 */

/** Words for ipaddr.js range names; others read as "a special-purpose (name) address". */
const rangeWords: Record<string, string> = {
  loopback: 'a loopback address',
  private: 'a private address',
  carrierGradeNat: 'a private (carrier-grade NAT) address',
  linkLocal: 'a link-local address',
  uniqueLocal: 'a unique-local address',
  deprecatedSiteLocal: 'a site-local address',
  unspecified: 'an unspecified address',
  multicast: 'a multicast address',
  broadcast: 'a broadcast address',
  reserved: 'a reserved or documentation address',
  teredo: 'a Teredo tunnel address',
};

function describeRange(range: string): string {
  return rangeWords[range] ?? `a special-purpose (${range}) address`;
}

function ipv4FromGroups(high: number, low: number): ipaddr.IPv4 {
  return new ipaddr.IPv4([high >> 8, high & 255, low >> 8, low & 255]);
}

type Embedded = { form: string; ipv4: ipaddr.IPv4 } | { refused: string } | null;

/** The IPv4 address an IPv6 form carries, a reason to refuse the form as a whole, or null. */
function embeddedIpv4(address: ipaddr.IPv6): Embedded {
  const groups = address.parts;
  const topSixZero = groups.slice(0, 6).every((group) => group === 0);
  // ::a.b.c.d, IPv4-compatible (RFC 4291, deprecated); :: and ::1 are not of this form.
  if (topSixZero && (groups[6] !== 0 || groups[7] > 1)) {
    return { form: 'IPv4-compatible form', ipv4: ipv4FromGroups(groups[6], groups[7]) };
  }
  const range = address.range();
  if (range === 'ipv4Mapped') return { form: 'IPv4-mapped form', ipv4: address.toIPv4Address() };
  if (range === 'rfc6145') return { form: 'IPv4-translated form', ipv4: ipv4FromGroups(groups[6], groups[7]) };
  if (range === 'rfc6052') {
    // 64:ff9b:1::/48 (RFC 8215) belongs to a private deployment whose mapping is unknown.
    if (groups[1] === 0xff9b && groups[2] === 1) return { refused: 'a local-use NAT64 address' };
    return { form: 'NAT64', ipv4: ipv4FromGroups(groups[6], groups[7]) };
  }
  if (range === '6to4') return { form: '6to4', ipv4: ipv4FromGroups(groups[1], groups[2]) };
  return null;
}

/**
 * ipaddr.js reads a dotted tail after `::` as IPv4-mapped (`::127.0.0.1` becomes
 * `::ffff:7f00:1`), so IPv6 text is first brought to its canonical hex form by the WHATWG URL
 * parser, the one that reads callback URLs. The zone (`%eth0`) does not change the range.
 */
function parseAddress(address: string, family: number): ipaddr.IPv4 | ipaddr.IPv6 {
  if (family === 4) return ipaddr.IPv4.parse(address);
  const canonical = new URL(`http://[${address.split('%')[0]}]/`).hostname.slice(1, -1);
  return ipaddr.IPv6.parse(canonical);
}

/** Why a production callback may not go to this IP address, or null when it may. */
export function refusedAddressReason(address: string): string | null {
  const family = isIP(address);
  if (family === 0) return 'not an IP address';
  const parsed = parseAddress(address, family);
  if (parsed.kind() === 'ipv6') {
    const embedded = embeddedIpv4(parsed as ipaddr.IPv6);
    if (embedded && 'refused' in embedded) return embedded.refused;
    if (embedded) {
      const ipv4 = embedded.ipv4.toString();
      const reason = refusedAddressReason(ipv4);
      return reason === null ? null : `${reason} (${embedded.form} of ${ipv4})`;
    }
  }
  const range = parsed.range();
  return range === 'unicast' ? null : describeRange(range);
}
