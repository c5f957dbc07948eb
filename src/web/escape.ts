const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&#34;' };
const NEEDS_ESCAPING = /[&<>"]/;
const ESCAPED = /[&<>"]/g;

/**
 * What `<%= %>` prints, and the values `th()` puts into a catalogue entry's markup: text and
 * double-quoted attribute values made safe. Every attribute of the templates and catalogues is
 * double-quoted, so `'` needs no escaping and the catalogues' apostrophes stay as written.
 */
export const escapeHtml = (value: unknown) => {
  const text = String(value ?? '');
  // Most of a page's values have nothing to escape: tested once, without a new string.
  return NEEDS_ESCAPING.test(text) ? text.replace(ESCAPED, (c) => HTML_ESCAPES[c]!) : text;
};
