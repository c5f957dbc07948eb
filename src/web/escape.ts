const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&#34;' };

/**
 * What `<%= %>` prints, and the values `th()` puts into a catalogue entry's markup: text and
 * double-quoted attribute values made safe. Every attribute of the templates and catalogues is
 * double-quoted, so `'` needs no escaping and the catalogues' apostrophes stay as written.
 */
export const escapeHtml = (value: unknown) => String(value ?? '').replace(/[&<>"]/g, (c) => HTML_ESCAPES[c]!);
