/**
 * The addresses of a message's `From:` header fields (RFC 5322 §3.6.2), from its header block:
 * folded lines unfolded, display names, comments and quoted strings skipped, each `addr-spec`
 * lower-cased. A message with no From: field gives an empty list.
 */
export function headerFromAddresses(headers: string): string[] {
  const unfolded = headers.replace(/\r\n(?=[ \t])/g, '');
  const out: string[] = [];
  for (const line of unfolded.split('\r\n')) {
    const m = /^from[ \t]*:(.*)$/i.exec(line);
    if (!m) continue;
    // Quoted display names and comments may hold anything, an @ or a comma included.
    const value = m[1]!.replace(/"(?:[^"\\]|\\.)*"/g, '""').replace(/\((?:[^()\\]|\\.)*\)/g, ' ');
    for (const part of value.split(',')) {
      const angle = /<([^<>]*)>/.exec(part);
      const address = (angle ? angle[1]! : part).trim().toLowerCase();
      if (address) out.push(address);
    }
  }
  return out;
}
