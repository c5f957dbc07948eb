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
