import type { Language, Translator } from './languages.js';
import type { Clock, Logger, Mailer, NetworkSeen, Notice, NoticeKind, SessionOwner, Stores } from './ports.js';

/** Who did it and from where; never a secret. */
export interface AlertDetail {
  /** The client address of whoever caused it (null when not known, or when an admin did it). */
  ip?: string | null;
  /** Who changed a password: its owner, an admin, or whoever opened a link mailed to the recovery address (SPEC §16). */
  by?: 'owner' | 'admin' | 'link';
  /** A recovery address now confirmed (absent: the recovery address was removed). */
  address?: string;
  /** A second factor's kind. */
  method?: 'totp' | 'passkey';
  /** A new network's login. */
  protocol?: 'web' | 'smtp';
  /** An app password's name. */
  name?: string;
  /** A sending limit reached (SPEC §15): its window, its value and the login that reached it. */
  window?: 'hour' | 'day';
  limit?: number;
  login?: string;
  /** A webhook paused after failing for 3 days (SPEC §19): its URL. */
  url?: string;
}

/** NIST SP 800-63B §5.2.2: at most 100 consecutive failed attempts of a second factor's codes. */
export const MAX_TOTP_FAILURES = 100;

export interface Alerts {
  /**
   * Tells an owner of a change to its account (issue 17): a message through the relay when there
   * is one and the owner is a mailbox, else a notice on its next panel visit. Never fails or
   * delays the change that caused it. `alsoTo`: addresses that get the same message through the
   * relay (a recovery address, SPEC §16); without a relay, nobody else is told.
   */
  raise(owner: SessionOwner, kind: NoticeKind, detail: AlertDetail, alsoTo?: readonly string[]): void;
  /** Logins from networks their owners had not used before. */
  newNetworks(seen: readonly NetworkSeen[]): void;
  /** The notices of this panel visit, oldest first, as sentences in the page's language; each is shown once. */
  take(owner: SessionOwner, lang?: Language): Promise<Array<{ at: number; text: string }>>;
  /** Resolves once every alert raised so far is sent or kept. */
  settled(): Promise<void>;
}

/** Alerts on their way at most; beyond, a flood (a provider's NAT changing) becomes notices. */
const MAX_SENDING = 200;

/**
 * What an alert says, in the message and in the notice alike, in `lang`: what happened, when, from
 * which address, and what to do if it was not the owner. No secret and no link: an alert that asks
 * for a click is what a phishing message looks like. The words are the catalogues' `alert.*`.
 */
export function describe(i18n: Translator, lang: Language, kind: NoticeKind, label: string, detail: AlertDetail, at: number): { subject: string; text: string } {
  const from = detail.ip ? i18n.t(lang, 'alert.from', { ip: detail.ip }) : '';
  const t = (key: string, values: Record<string, unknown> = {}) => i18n.t(lang, key, { label, when: i18n.when(lang, at), from, ...values });
  switch (kind) {
    case 'password-changed':
      return {
        subject: t('alert.password-changed.subject'),
        text: t(detail.by === 'admin' ? 'alert.password-changed.text.admin' : detail.by === 'link' ? 'alert.password-changed.text.link' : 'alert.password-changed.text.owner'),
      };
    case 'recovery-address-changed':
      return detail.address
        ? { subject: t('alert.recovery-set.subject'), text: t('alert.recovery-set.text', { address: detail.address }) }
        : { subject: t('alert.recovery-removed.subject'), text: t('alert.recovery-removed.text') };
    case 'second-factor-added':
      return {
        subject: t('alert.second-factor-added.subject'),
        text: t('alert.second-factor-added.text', { method: t(detail.method === 'passkey' ? 'alert.method.passkey' : 'alert.method.totp') }),
      };
    case 'second-factor-removed':
      return { subject: t('alert.second-factor-removed.subject'), text: t('alert.second-factor-removed.text') };
    case 'password-accepted':
      return { subject: t('alert.password-accepted.subject'), text: t('alert.password-accepted.text') };
    case 'second-factor-guessed':
      return { subject: t('alert.second-factor-guessed.subject'), text: t('alert.second-factor-guessed.text', { failures: MAX_TOTP_FAILURES }) };
    case 'app-password-created':
      return {
        subject: t('alert.app-password-created.subject'),
        text: detail.name ? t('alert.app-password-created.text-named', { name: detail.name }) : t('alert.app-password-created.text'),
      };
    case 'send-limit-reached':
      return {
        subject: t('alert.send-limit-reached.subject'),
        text: t('alert.send-limit-reached.text', { who: detail.login ?? label, limit: detail.limit ?? '?', per: t(detail.window === 'day' ? 'alert.window.day' : 'alert.window.hour') }),
      };
    case 'webhook-paused':
      return { subject: t('alert.webhook-paused.subject'), text: t('alert.webhook-paused.text', { url: detail.url ?? '?' }) };
    case 'new-network':
      return { subject: t('alert.new-network.subject'), text: t('alert.new-network.text', { protocol: t(detail.protocol === 'smtp' ? 'alert.protocol.smtp' : 'alert.protocol.web') }) };
  }
}

const parseDetail = (text: string): AlertDetail => {
  try {
    return JSON.parse(text) as AlertDetail;
  } catch {
    return {};
  }
};

export function createAlerts({
  stores,
  clock,
  log,
  mailer,
  translator,
  defaultLanguage,
}: {
  stores: Pick<Stores, 'accounts' | 'admins' | 'notices'>;
  clock: Clock;
  log: Logger;
  mailer: Mailer | null;
  translator: Translator;
  /** SPEC §17: the language of an owner that chose none. */
  defaultLanguage: Language;
}): Alerts {
  const sending = new Set<Promise<void>>();

  const keep = (owner: SessionOwner, notice: Notice) =>
    stores.notices.addNotice(owner, notice).catch((err: unknown) => log.warn({ err, owner, kind: notice.kind }, 'alert notice not kept'));

  const deliver = async (owner: SessionOwner, notice: Notice, alsoTo: readonly string[]) => {
    // Admins have no mailbox to write to; a flood waits for the owners' visits.
    if (!mailer || !owner.startsWith('mailbox:') || sending.size > MAX_SENDING) return keep(owner, notice);
    const account = await stores.accounts.findAccountById(Number(owner.slice('mailbox:'.length)));
    if (!account) return;
    // In the language its owner chose in the panel (SPEC §17).
    const { subject, text } = describe(translator, account.language ?? defaultLanguage, notice.kind, account.login, parseDetail(notice.detail), notice.at);
    const from = `postmaster@${account.login.slice(account.login.lastIndexOf('@') + 1)}`;
    const copies = Promise.all(
      alsoTo.map((to) => mailer.send({ to, from, subject, text }).catch((err: unknown) => log.warn({ err: (err as Error).message, owner, kind: notice.kind }, 'alert to another address not sent'))),
    );
    try {
      if (account.disabled) return await keep(owner, notice);
      await mailer.send({ to: account.login, from, subject, text });
      log.info({ owner, kind: notice.kind }, 'alert sent');
    } catch (err) {
      // The relay may be down: the owner still learns of it on its next visit.
      log.warn({ err: (err as Error).message, owner, kind: notice.kind }, 'alert not sent; kept as a notice');
      await keep(owner, notice);
    } finally {
      await copies;
    }
  };

  const raise = (owner: SessionOwner, kind: NoticeKind, detail: AlertDetail, at = clock.now(), alsoTo: readonly string[] = []) => {
    const job: Promise<void> = deliver(owner, { kind, detail: JSON.stringify(detail), at }, alsoTo)
      .catch((err: unknown) => log.warn({ err, owner, kind }, 'alert failed'))
      .finally(() => sending.delete(job));
    sending.add(job);
  };

  return {
    raise: (owner, kind, detail, alsoTo) => raise(owner, kind, detail, undefined, alsoTo),
    newNetworks(seen) {
      for (const s of seen) raise(s.owner, 'new-network', { ip: s.ip, protocol: s.protocol }, s.at);
    },
    async take(owner, lang = defaultLanguage) {
      const notices = await stores.notices.takeNotices(owner);
      if (notices.length === 0) return [];
      const [kind, id] = owner.split(':');
      const who = kind === 'admin' ? await stores.admins.findAdminById(Number(id)) : await stores.accounts.findAccountById(Number(id));
      const label = who ? ('username' in who ? who.username : who.login) : 'your account';
      return notices.map((n) => ({ at: n.at, text: describe(translator, lang, n.kind, label, parseDetail(n.detail), n.at).text }));
    },
    async settled() {
      while (sending.size > 0) await Promise.all([...sending]);
    },
  };
}
