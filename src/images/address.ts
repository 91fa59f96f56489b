/** Which network addresses a URL from untrusted input may reach: pure, no network. */
import ipaddr from 'ipaddr.js';

/**
 * The range an address falls in (ipaddr.js names: unicast, loopback, private, linkLocal,
 * carrierGradeNat, uniqueLocal, unspecified, ...). IPv4-mapped IPv6 addresses are judged as
 * the IPv4 address they carry, so ::ffff:127.0.0.1 is loopback.
 */
export function addressRange(address: string): string {
  let ip = ipaddr.parse(address);
  if (ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress()) ip = (ip as ipaddr.IPv6).toIPv4Address();
  return ip.range();
}

/**
 * True for an address a URL from untrusted input must not reach: anything but public unicast
 * (loopback, RFC 1918, CGNAT, link-local with the 169.254.169.254 metadata service, unique-local
 * v6, unspecified, multicast, reserved, and tunnelling prefixes that can embed any of them).
 * Text that is not an IP address counts as internal: refuse what cannot be judged.
 */
export function isInternalAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return true;
  return addressRange(address) !== 'unicast';
}

/** The host of a URL as an IP literal (brackets of IPv6 removed), or null for a name. */
export function ipLiteral(hostname: string): string | null {
  const host = hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
  return ipaddr.isValid(host) ? host : null;
}
