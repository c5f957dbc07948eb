import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import i18next from 'i18next';
import { LANGUAGES, type Language, type Translator } from '../core/languages.js';

/** locales/ at the project's root, from src/adapters/ and dist/adapters/ alike. */
export const LOCALES_DIR = fileURLToPath(new URL('../../locales/', import.meta.url));

/** One language's catalogue: flat keys (`login.title`, or a core sentence), values with `{{placeholders}}`. */
export type Catalogue = Record<string, string>;

export function readCatalogues(dir: string): Record<Language, Catalogue> {
  return Object.fromEntries(LANGUAGES.map((lang) => [lang, JSON.parse(readFileSync(path.join(dir, `${lang}.json`), 'utf8')) as Catalogue])) as Record<Language, Catalogue>;
}

const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_]+)\s*\}\}/g;
const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * SPEC §17 over i18next (plural forms by CLDR rules through Intl.PluralRules, placeholders), with
 * the catalogues read once at start. Keys are flat (`keySeparator: false`): a key is a name like
 * `login.title`, or the English sentence itself for what the core says. Values are not HTML-escaped
 * here: every template escapes what it prints.
 */
export function createTranslator(dir = LOCALES_DIR): Translator & {
  /** The same entry through i18next's t(), which `t` must equal (the catalogues' test compares them). */
  viaI18next(lang: Language, key: string, values?: Record<string, unknown>): string;
} {
  const catalogues = readCatalogues(dir);
  const instance = i18next.createInstance();
  void instance.init({
    resources: Object.fromEntries(LANGUAGES.map((lang) => [lang, { translation: catalogues[lang] }])),
    lng: 'en',
    fallbackLng: 'en',
    supportedLngs: [...LANGUAGES],
    keySeparator: false,
    nsSeparator: false,
    interpolation: { escapeValue: false },
    returnNull: false,
    initAsync: false,
    showSupportNotice: false,
  } as Parameters<typeof instance.init>[0]);
  // i18next's own plural rules (CLDR, through Intl.PluralRules) and interpolator, called directly:
  // its generic t() spends 13 µs on an entry with values, these two under 1.5 µs together, and a
  // page has a dozen such entries (test/core/catalogues.test.ts proves the same results as t()).
  const { pluralResolver, interpolator } = instance.services as unknown as {
    pluralResolver: { getSuffix(lang: string, count: number): string };
    interpolator: { interpolate(text: string, values: Record<string, unknown>, lang: string, options: object): string };
  };
  const entry = (lang: Language, key: string) => catalogues[lang][key] ?? catalogues.en[key];
  /** The entry `key` (its plural form for `count`), in `lang`, else in English as i18next falls back. */
  const template = (lang: Language, key: string, count: unknown): string | undefined => {
    if (typeof count !== 'number') return entry(lang, key);
    return catalogues[lang][`${key}${pluralResolver.getSuffix(lang, count)}`] ?? catalogues[lang][key] ?? catalogues.en[`${key}${pluralResolver.getSuffix('en', count)}`] ?? catalogues.en[key];
  };

  // The core's sentences with something in them that varies ("Must be at most {{max}} characters."):
  // matched against what the core said, longest first, to find the entry and what fills it.
  const sentences = Object.keys(catalogues.en).filter((k) => k.includes(' '));
  const exact = new Set(sentences.filter((k) => !k.includes('{{')));
  const patterns = sentences
    .filter((k) => k.includes('{{'))
    .sort((a, b) => b.length - a.length)
    .map((key) => {
      const names = [...key.matchAll(PLACEHOLDER)].map((m) => m[1]!);
      const source = key.split(PLACEHOLDER).map((part, i) => (i % 2 === 1 ? '([^]+?)' : escapeRegExp(part))).join('');
      return { key, names, regex: new RegExp(`^${source}$`) };
    });

  const formats = new Map<string, Intl.DateTimeFormat>();
  const format = (lang: Language, style: 'date' | 'time') => {
    const id = `${lang} ${style}`;
    let f = formats.get(id);
    if (!f) {
      f = new Intl.DateTimeFormat(lang, style === 'date' ? { dateStyle: 'medium', timeZone: 'UTC' } : { dateStyle: 'medium', timeStyle: 'short', timeZone: 'UTC', hourCycle: 'h23' });
      formats.set(id, f);
    }
    return f;
  };

  const t: Translator['t'] = (lang, key, values) => {
    // An entry with nothing to fill is the catalogue's text itself (English when missing).
    if (values === undefined) return entry(lang, key) ?? key;
    const text = template(lang, key, values.count);
    return text === undefined ? key : interpolator.interpolate(text, values, lang, {});
  };
  return {
    t,
    viaI18next: (lang, key, values) => instance.t(key, { ...values, lng: lang }) as string,
    message(lang, english) {
      if (lang === 'en') return english;
      if (exact.has(english)) return t(lang, english);
      for (const { key, names, regex } of patterns) {
        const m = regex.exec(english);
        if (m) return t(lang, key, Object.fromEntries(names.map((n, i) => [n, m[i + 1]])));
      }
      return english;
    },
    when(lang, unixSeconds, style = 'time') {
      // English keeps the ISO 8601 form the panel has always shown (the one logs and the API use);
      // the other languages write a date their way.
      if (lang === 'en') {
        const iso = new Date(unixSeconds * 1000).toISOString();
        return style === 'date' ? iso.slice(0, 10) : `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
      }
      return `${format(lang, style).format(new Date(unixSeconds * 1000))}${style === 'time' ? ' UTC' : ''}`;
    },
  };
}
