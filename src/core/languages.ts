// SPEC §17: the languages of the panel, its alert mails and notices. The API, the CLI, logs and
// SMTP replies stay English: they are a contract.

export const LANGUAGES = ['en', 'fr', 'de', 'es', 'pl', 'nl', 'it', 'pt-BR'] as const;
export type Language = (typeof LANGUAGES)[number];

/** Each language's name in itself, as the footer's selector shows it. */
export const LANGUAGE_NAMES: Record<Language, string> = {
  en: 'English',
  fr: 'Français',
  de: 'Deutsch',
  es: 'Español',
  pl: 'Polski',
  nl: 'Nederlands',
  it: 'Italiano',
  'pt-BR': 'Português (Brasil)',
};

export const isLanguage = (value: unknown): value is Language => typeof value === 'string' && (LANGUAGES as readonly string[]).includes(value);

/** The messages of SPEC §17's catalogues (locales/<language>.json), one instance for every edge. */
export interface Translator {
  /** The entry `key` in `lang` (English when missing), its `{{placeholders}}` filled, plural forms by `count`. */
  t(lang: Language, key: string, values?: Record<string, unknown>): string;
  /**
   * A sentence the core said in English (a field error, a refusal) in `lang`. The core speaks
   * English, the API's contract; its sentences are their own keys in the catalogues (gettext's
   * way), `{{name}}` standing for what varies. A sentence not in them stays English.
   */
  message(lang: Language, english: string): string;
  /** A moment as a person of `lang` reads it, in UTC: `date` (a day) or `time` (a day and a time). */
  when(lang: Language, unixSeconds: number, style?: 'date' | 'time'): string;
}
