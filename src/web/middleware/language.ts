import type { Request, RequestHandler } from 'express';
import { isLanguage, LANGUAGE_NAMES, LANGUAGES, type Language, type Translator } from '../../core/languages.js';
import type { Services } from '../../services.js';
import { escapeHtml } from '../escape.js';
import { actorOf } from './auth.js';

/** The cookie the footer's selector sets (SPEC §17): a visitor's choice, for a year. */
export const LANGUAGE_COOKIE = 'lang';
const COOKIE_DAYS = 365;

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Locals {
      /** SPEC §17: the language of this page. */
      lang: Language;
      /** A catalogue entry in the page's language, to print escaped (`<%= t('key') %>`). */
      t: (key: string, values?: Record<string, unknown>) => string;
      /**
       * An entry whose text holds markup (`<code>`, `<strong>`), to print raw (`<%- th('key', {...}) %>`):
       * its values are escaped, but for those named `html…`, markup the template made from escaped parts.
       */
      th: (key: string, values?: Record<string, unknown>) => string;
      /** HTML-escapes a value a template puts into an `html…` value of `th`. */
      esc: (text: unknown) => string;
      /** A sentence the core said in English (a field error, a refusal), in the page's language. */
      m: (english: string) => string;
      /** A moment (Unix seconds) as the page's language writes it, in UTC. */
      when: (unixSeconds: number, style?: 'date' | 'time') => string;
      /** A number as the page's language writes it. */
      num: (n: number) => string;
      /** The footer selector's choices, each language named in itself. */
      languages: ReadonlyArray<{ code: Language; name: string }>;
    }
  }
}

const COOKIE = new RegExp(`(?:^|;\\s*)${LANGUAGE_COOKIE}=([A-Za-z-]{2,5})(?:;|$)`);
const cookieOf = (req: Request): string | undefined => (req.headers.cookie ? COOKIE.exec(req.headers.cookie)?.[1] : undefined);

/** SPEC §17's order: the owner's saved choice, the `lang` cookie, Accept-Language, DEFAULT_LANGUAGE. */
export function chooseLanguage(req: Request, saved: Language | null | undefined, fallback: Language): Language {
  if (saved) return saved;
  const cookie = cookieOf(req);
  if (isLanguage(cookie)) return cookie;
  if (req.headers['accept-language']) {
    const accepted = req.acceptsLanguages(...LANGUAGES);
    if (isLanguage(accepted)) return accepted;
  }
  return fallback;
}

const numbers = new Map<Language, Intl.NumberFormat>(LANGUAGES.map((lang) => [lang, new Intl.NumberFormat(lang)]));
const choices = LANGUAGES.map((code) => ({ code, name: LANGUAGE_NAMES[code] }));

/** The helpers a page gets in `lang`: made once per language, not per request. */
function helpers(i18n: Translator, lang: Language) {
  const t = (key: string, values?: Record<string, unknown>) => i18n.t(lang, key, values);
  return {
    lang,
    t,
    th: (key: string, values: Record<string, unknown> = {}) =>
      i18n.t(lang, key, Object.fromEntries(Object.entries(values).map(([k, v]) => [k, (k === 'count' && typeof v === 'number') || k.startsWith('html') ? v : escapeHtml(v)]))),
    esc: escapeHtml,
    m: (english: string) => i18n.message(lang, english),
    when: (unixSeconds: number, style?: 'date' | 'time') => i18n.when(lang, unixSeconds, style),
    num: (n: number) => numbers.get(lang)!.format(n),
  };
}

/**
 * Mounted before the session (for what answers without one, such as a refused body) and run
 * again after loadActor when the signed-in owner saved a choice, which comes first. The API,
 * mounted before it, stays English.
 */
export function chooseLanguageFor(svc: Services): RequestHandler {
  const byLanguage = new Map(LANGUAGES.map((lang) => [lang, helpers(svc.i18n, lang)]));
  const fallback = svc.config.defaultLanguage;
  return (req, res, next) => {
    const lang = chooseLanguage(req, res.locals.savedLanguage, fallback);
    Object.assign(res.locals, byLanguage.get(lang)!);
    res.locals.languages = choices;
    res.set('Content-Language', lang);
    res.vary('Accept-Language');
    res.vary('Cookie');
    next();
  };
}

/** Back to a page of this panel only: a path, never another site (`//host`, `/\\host`). */
const safeNext = (next: unknown): string => (typeof next === 'string' && /^\/(?![/\\])[^\s]*$/.test(next) ? next : '/');

/**
 * SPEC §17: the footer's `Language` selector, a form that works without JavaScript. It sets the
 * `lang` cookie and returns to the page it was on. A visitor's form is a GET (it changes nothing
 * stored); a signed-in owner's is a POST with the page's CSRF token, and saves the choice, so that
 * the owner's alert mails follow it.
 */
export function setLanguage(svc: Services): RequestHandler {
  return async (req, res) => {
    const source = req.method === 'POST' ? (req.body as Record<string, unknown> | undefined) ?? {} : req.query;
    const lang = source.lang;
    if (!isLanguage(lang)) {
      res.status(400).type('text/plain').send(`Unknown language: choose one of ${LANGUAGES.join(', ')}.\n`);
      return;
    }
    res.cookie(LANGUAGE_COOKIE, lang, { httpOnly: true, sameSite: 'lax', secure: req.secure, maxAge: COOKIE_DAYS * 86_400_000, path: '/' });
    const actor = res.locals.actor;
    if (req.method === 'POST' && (actor?.kind === 'mailbox' || actor?.kind === 'admin')) await svc.i18n.save(actorOf(res, 'mailbox', 'admin'), lang);
    res.redirect(303, safeNext(source.next));
  };
}
