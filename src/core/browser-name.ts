/** A browser as a person names it ("Firefox on Linux"), from its User-Agent; never the whole string. */
export function browserName(userAgent: string | undefined): string {
  if (!userAgent) return '';
  const browser = /\b(Edg|OPR|Firefox|Chrome|Safari)\/\d+/.exec(userAgent)?.[1];
  const os = /\b(Windows|Android|iPhone|iPad|Mac OS X|Linux|CrOS)\b/.exec(userAgent)?.[1];
  const names: Record<string, string> = { Edg: 'Edge', OPR: 'Opera', 'Mac OS X': 'macOS', CrOS: 'ChromeOS' };
  const b = browser ? (names[browser] ?? browser) : 'a browser';
  return os ? `${b} on ${names[os] ?? os}` : b;
}
