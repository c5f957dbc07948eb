import { BlockList, isIP } from 'node:net';

// Addresses and CIDR networks, IPv4 and IPv6: WEBMAIL_CLIENTS (SPEC §16) and the client addresses
// an API token is allowed from (SPEC §18).

/** `192.0.2.10`, `10.0.0.0/24`, `::1`, `2001:db8::/32`. */
export function isNetwork(entry: string): boolean {
  const [address = '', prefix, extra] = entry.split('/');
  const family = isIP(address);
  const bits = family === 4 ? 32 : 128;
  return family !== 0 && extra === undefined && (prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= bits));
}

/** Whether an address is in one of `entries` (checked with isNetwork); an IPv4 client on a dual-stack socket arrives as ::ffff:a.b.c.d. */
export function networkMatcher(entries: readonly string[]): (ip: string | null | undefined) => boolean {
  const list = new BlockList();
  for (const entry of entries) {
    const [address = '', prefix] = entry.split('/');
    const type = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (prefix === undefined) list.addAddress(address, type);
    else list.addSubnet(address, Number(prefix), type);
  }
  return (ip) => {
    if (!ip || entries.length === 0) return false;
    const plain = ip.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');
    return isIP(plain) !== 0 && list.check(plain, isIP(plain) === 6 ? 'ipv6' : 'ipv4');
  };
}

/**
 * SPEC §19: where a webhook may not send unless WEBHOOK_ALLOW_PRIVATE=true: loopback, private,
 * shared (CGNAT), link-local (cloud metadata at 169.254.169.254 and fd00:ec2::254 among them),
 * unspecified, IPv4-compatible (::/96, deprecated), multicast, reserved and documentation networks, and IPv4 inside IPv6 (mapped,
 * NAT64, 6to4) by the IPv4 address it carries.
 */
const NOT_PUBLIC = networkMatcher([
  '0.0.0.0/8', '10.0.0.0/8', '100.64.0.0/10', '127.0.0.0/8', '169.254.0.0/16', '172.16.0.0/12', '192.0.0.0/24', '192.0.2.0/24',
  '192.88.99.0/24', '192.168.0.0/16', '198.18.0.0/15', '198.51.100.0/24', '203.0.113.0/24', '224.0.0.0/4', '240.0.0.0/4',
  '::/96', '100::/64', '2001:db8::/32', 'fc00::/7', 'fe80::/10', 'fec0::/10', 'ff00::/8',
]);

/** IPv6 networks that carry an IPv4 address: mapped ::ffff:a.b.c.d, NAT64 64:ff9b::/96, 6to4 2002::/16. */
const CARRIES_IPV4 = new BlockList();
CARRIES_IPV4.addSubnet('::ffff:0:0', 96, 'ipv6');
CARRIES_IPV4.addSubnet('64:ff9b::', 96, 'ipv6');
CARRIES_IPV4.addSubnet('2002::', 16, 'ipv6');

/** The IPv4 address an IPv6 address carries, if any (CARRIES_IPV4). */
function embeddedIpv4(ip: string): string | null {
  if (isIP(ip) !== 6 || !CARRIES_IPV4.check(ip, 'ipv6')) return null;
  const groups = expandIpv6(ip);
  const [hi, lo] = ip.toLowerCase().startsWith('2002:') ? [groups[1]!, groups[2]!] : [groups[6]!, groups[7]!];
  return [hi >> 8, hi & 255, lo >> 8, lo & 255].join('.');
}

/** The eight 16-bit groups of an IPv6 address (a dotted IPv4 tail read as two). */
function expandIpv6(ip: string): number[] {
  const tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(ip);
  let text = ip;
  if (tail) {
    const [a, b, c, d] = tail[1]!.split('.').map(Number) as [number, number, number, number];
    text = ip.slice(0, -tail[1]!.length) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', rest] = text.split('::');
  const left = head ? head.split(':') : [];
  const right = rest ? rest.split(':') : [];
  const middle = rest === undefined ? [] : Array(8 - left.length - right.length).fill('0');
  return [...left, ...middle, ...right].map((g) => parseInt(g, 16));
}

/** Whether an address is one a webhook may reach without WEBHOOK_ALLOW_PRIVATE (see NOT_PUBLIC). */
export function isPublicAddress(ip: string): boolean {
  if (isIP(ip) === 0) return false;
  const inner = embeddedIpv4(ip);
  if (inner) return !NOT_PUBLIC(inner);
  return !NOT_PUBLIC(ip);
}
