import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { createTranslator, LOCALES_DIR, readCatalogues, type Catalogue } from '../../src/adapters/i18n.js';
import { LANGUAGES, type Language } from '../../src/core/languages.js';

// SPEC §17: the eight catalogues say the same things. English is the reference: every other
// language has each of its entries (each plural form its rules need), no other entry, the same
// placeholders and the same markup; every entry is used somewhere, and every entry used exists.

const catalogues = readCatalogues(LOCALES_DIR);
const PLURAL = /_(zero|one|two|few|many|other)$/;
const PLACEHOLDER = /\{\{\s*(\w+)\s*\}\}/g;
const TAG = /<\/?([a-z]+)[^>]*>/g;

/** Entries by name, plural forms grouped under their base name. */
function grouped(catalogue: Catalogue): Map<string, Map<string, string>> {
  const out = new Map<string, Map<string, string>>();
  for (const [key, value] of Object.entries(catalogue)) {
    const base = key.replace(PLURAL, '');
    const form = key === base ? '' : key.slice(base.length + 1);
    if (!out.has(base)) out.set(base, new Map());
    out.get(base)!.set(form, value);
  }
  return out;
}

const placeholders = (forms: Iterable<string>) => new Set([...forms].flatMap((v) => [...v.matchAll(PLACEHOLDER)].map((m) => m[1]!)));
const tags = (value: string) => [...value.matchAll(TAG)].map((m) => m[0].replace(/\{\{\s*\w+\s*\}\}/g, '')).sort();
const sorted = (set: Set<string>) => [...set].sort();

const english = grouped(catalogues.en);

function sources(dir: string, exts: string[]): string[] {
  return readdirSync(dir).flatMap((name) => {
    const file = path.join(dir, name);
    if (statSync(file).isDirectory()) return sources(file, exts);
    return exts.some((e) => name.endsWith(e)) ? [readFileSync(file, 'utf8')] : [];
  });
}
const views = sources('views', ['.ejs']).join('\n');
const code = [views, ...sources('src', ['.ts']), ...sources('public', ['.js'])].join('\n');
/** The lines of the code that name entries: calls of t(), th() and error pages' titles (audit actions look alike). */
const naming = [views, ...code.split('\n').filter((line) => /\bt[h]?\(|titleKey/.test(line))].join('\n');

describe('the catalogues of SPEC §17', () => {
  test('every language has exactly the English entries, its own plural forms, the same placeholders and markup', () => {
    const problems: string[] = [];
    for (const lang of LANGUAGES.filter((l): l is Exclude<Language, 'en'> => l !== 'en')) {
      const own = grouped(catalogues[lang]);
      const categories = new Intl.PluralRules(lang).resolvedOptions().pluralCategories as string[];
      for (const [base, forms] of english) {
        const theirs = own.get(base);
        if (!theirs) {
          problems.push(`${lang}: missing ${base}`);
          continue;
        }
        const plural = !forms.has('');
        const wanted = plural ? categories : [''];
        for (const form of wanted) if (!theirs.has(form)) problems.push(`${lang}: missing ${base}${form ? `_${form}` : ''}`);
        for (const form of theirs.keys()) if (!wanted.includes(form)) problems.push(`${lang}: ${base}${form ? `_${form}` : ''} is not a form ${lang} has`);
        // A plural form may leave {{count}} out ("one password"); every other placeholder is the same.
        const expect = sorted(placeholders(forms.values()));
        for (const [form, value] of theirs) {
          const got = sorted(placeholders([value]));
          const missing = expect.filter((p) => !got.includes(p) && !(plural && p === 'count'));
          const extra = got.filter((p) => !expect.includes(p));
          if (missing.length || extra.length) problems.push(`${lang}: ${base}${form ? `_${form}` : ''} placeholders differ (missing ${missing.join(',') || '-'}, extra ${extra.join(',') || '-'})`);
          const englishTags = tags([...forms.values()][0]!);
          if (JSON.stringify(tags(value)) !== JSON.stringify(englishTags)) problems.push(`${lang}: ${base} markup differs from English`);
          if (value.trim() === '') problems.push(`${lang}: ${base} is empty`);
        }
      }
      for (const base of own.keys()) if (!english.has(base)) problems.push(`${lang}: ${base} is not an English entry`);
    }
    assert.deepEqual(problems, []);
  });

  test('every entry is used, and every entry the templates and code name exists', () => {
    const unused: string[] = [];
    for (const base of english.keys()) {
      if (base.includes(' ')) {
        // A sentence of the core: written in the code with `${…}` where the catalogue has {{…}}.
        const source = base.split(/\{\{\s*\w+\s*\}\}/).map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('(?:\\$\\{[^}]+\\}|\\d+)');
        if (!new RegExp(source).test(code)) unused.push(base);
      } else if (base.startsWith('client.')) {
        // The panel's scripts' words (words-<lang>.js), each read by tr('<name>') in public/.
        if (!code.includes(`tr('${base.slice('client.'.length)}'`)) unused.push(base);
      } else if (!code.includes(`'${base}'`)) unused.push(base);
    }
    assert.deepEqual(unused, [], 'entries nothing uses');
    const namespaces = new Set([...english.keys()].filter((k) => !k.includes(' ')).map((k) => k.slice(0, k.indexOf('.'))));
    const named = new Set([...code.matchAll(/\bt[h]?\(\s*'([a-z0-9-]+\.[a-z0-9.-]+)'/g)].map((m) => m[1]!));
    const quoted = [...naming.matchAll(/'([a-z0-9-]+\.[a-z0-9.-]+)'/g)].map((m) => m[1]!).filter((k) => namespaces.has(k.slice(0, k.indexOf('.'))) && !/\.(js|ts|json|css|svg|sql)$/.test(k));
    const missing = [...new Set([...named, ...quoted])].filter((k) => !english.has(k));
    assert.deepEqual(missing, [], 'entries used but not in locales/en.json');
  });

  test('plural forms follow each language: one, few and many in Polish', () => {
    const i18n = createTranslator();
    const forms = [1, 2, 5, 22, 25].map((count) => i18n.t('pl', 'limits.recipients', { count }));
    assert.equal(new Set(forms.map((f) => f.replace(/\d+/, '#'))).size, 3, forms.join(' | '));
    assert.equal(i18n.t('en', 'limits.recipients', { count: 1 }), '1 recipient');
    assert.equal(i18n.t('en', 'limits.recipients', { count: 2 }), '2 recipients');
  });

  test("every entry reads the same as i18next's own t() gives it, each plural form included", () => {
    const i18n = createTranslator();
    const differ: string[] = [];
    for (const lang of LANGUAGES) {
      for (const [base, forms] of english) {
        const names = [...placeholders(forms.values())];
        const values = Object.fromEntries(names.map((n) => [n, `<${n}>`]));
        const counts = forms.has('') ? [undefined] : [0, 1, 2, 5, 22, 25, 1_000_000];
        for (const count of counts) {
          const v = count === undefined ? (names.length ? values : undefined) : { ...values, count };
          if (i18n.t(lang, base, v) !== i18n.viaI18next(lang, base, v)) differ.push(`${lang} ${base} ${count ?? ''}: ${i18n.t(lang, base, v)} | ${i18n.viaI18next(lang, base, v)}`);
        }
      }
    }
    assert.deepEqual(differ, []);
  });

  test("the core's English sentences come back in the page's language, what varies kept", () => {
    const i18n = createTranslator();
    assert.match(i18n.message('fr', 'Must contain an uppercase letter.'), /majuscule/);
    assert.equal(i18n.message('de', 'Mailbox jane@example.com added.').includes('jane@example.com'), true);
    assert.notEqual(i18n.message('de', 'Mailbox jane@example.com added.'), 'Mailbox jane@example.com added.');
    // A sentence the catalogues do not know stays as it was said.
    assert.equal(i18n.message('fr', 'Something new.'), 'Something new.');
    assert.equal(i18n.message('en', 'Must contain an uppercase letter.'), 'Must contain an uppercase letter.');
  });
});
