import { isIPv6 } from 'node:net';

/** What a name in EHLO may bring into a header: host-name characters and address literals only. */
const sanitize = (helo: string) => helo.replace(/[^A-Za-z0-9.\-:[\]]/g, '').slice(0, 255) || 'unknown';

/** RFC 5322 §3.3 date-time in UTC, e.g. `Fri, 04 Dec 2026 02:40:57 +0000`. */
export const rfc5322Date = (date: Date) => date.toUTCString().replace(/GMT$/, '+0000');

/**
 * SPEC §9: the one trace header of a relayed message (RFC 5321 §4.4), `with ESMTPSA` for mail
 * submitted over TLS with AUTH (RFC 3848). Without `clientIp` the client's address is left out
 * (SMTP_TRACE_CLIENT_IP=false), as some submission services do for their users' privacy.
 */
export function receivedHeader({ helo, clientIp, hostname, id, date }: { helo: string; clientIp: string | null; hostname: string; id: string; date: Date }): string {
  const literal = clientIp ? ` ([${isIPv6(clientIp) ? `IPv6:${clientIp}` : clientIp}])` : '';
  return `Received: from ${sanitize(helo)}${literal}\r\n\tby ${hostname} (mailpass) with ESMTPSA id ${id};\r\n\t${rfc5322Date(date)}\r\n`;
}
