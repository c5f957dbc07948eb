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
  /** The notices of this panel visit, oldest first, as sentences; each is shown once. */
  take(owner: SessionOwner): Promise<Array<{ at: number; text: string }>>;
  /** Resolves once every alert raised so far is sent or kept. */
  settled(): Promise<void>;
}

/** Alerts on their way at most; beyond, a flood (a provider's NAT changing) becomes notices. */
const MAX_SENDING = 200;

const when = (at: number) => new Date(at * 1000).toUTCString().replace(/:\d\d GMT$/, ' UTC');
const METHODS = { totp: 'An authenticator app', passkey: 'A passkey' } as const;
const PROTOCOLS = { web: 'the web panel', smtp: 'SMTP (a mail program)' } as const;

/**
 * What an alert says, in the message and in the notice alike: what happened, when, from which
 * address, and what to do if it was not the owner. No secret and no link: an alert that asks
 * for a click is what a phishing message looks like.
 */
export function describe(kind: NoticeKind, label: string, detail: AlertDetail, at: number): { subject: string; text: string } {
  const from = detail.ip ? ` from ${detail.ip}` : '';
  switch (kind) {
    case 'password-changed':
      return {
        subject: 'Your password was changed',
        text:
          detail.by === 'admin'
            ? `The password of ${label} was reset by an administrator on ${when(at)}. If you did not ask for this, contact your mail administrator.`
            : detail.by === 'link'
              ? `The password of ${label} was reset on ${when(at)}${from} through a link sent to its recovery address; every session of it was ended and its app passwords revoked. If this wasn't you, contact your mail administrator now.`
              : `The password of ${label} was changed on ${when(at)}${from}. If this wasn't you, contact your mail administrator now.`,
      };
    case 'recovery-address-changed':
      return detail.address
        ? {
            subject: 'A recovery address was set',
            text: `${detail.address} was confirmed as the recovery address of ${label} on ${when(at)}${from}: a link to reset its password can be sent there. If this wasn't you, change your password and contact your mail administrator now.`,
          }
        : {
            subject: 'The recovery address was removed',
            text: `The recovery address of ${label} was removed on ${when(at)}${from}: a forgotten password can no longer be reset by mail. If this wasn't you, change your password and contact your mail administrator now.`,
          };
    case 'second-factor-added':
      return {
        subject: 'A second factor was added to your login',
        text: `${METHODS[detail.method ?? 'totp']} was added as a second factor of ${label} on ${when(at)}${from}. If this wasn't you, change your password and contact your mail administrator now.`,
      };
    case 'second-factor-removed':
      return {
        subject: 'The second factors of your login were removed',
        text: `An administrator removed the second factors of ${label} on ${when(at)}: the panel asks for the password only until you add one again. If you did not ask for this, contact your mail administrator.`,
      };
    case 'password-accepted':
      return {
        subject: 'Your password was entered, and the second factor was asked',
        text: `The password of ${label} was entered correctly on ${when(at)}${from}, from a browser that had not logged in as it before; the panel then asked for the second factor. If this was you, there is nothing to do. If not, someone knows your password: change it now.`,
      };
    case 'second-factor-guessed':
      return {
        subject: 'Your authenticator codes are no longer accepted',
        text: `${MAX_TOTP_FAILURES} wrong authenticator codes in a row were typed at the second step of ${label}, the last on ${when(at)}${from}, so its authenticator codes are refused until a recovery code or a passkey logs in. Whoever typed them knew the password: if this wasn't you, log in with a recovery code and change your password now.`,
      };
    case 'app-password-created':
      return {
        subject: 'An app password was created',
        text: `An app password${detail.name ? ` named "${detail.name}"` : ''} was created for ${label} on ${when(at)}${from}; it logs in over SMTP and IMAP. If this wasn't you, revoke it on your security page, change your password and contact your mail administrator now.`,
      };
    case 'send-limit-reached': {
      const who = detail.login ?? label;
      const per = detail.window === 'day' ? 'the last 24 hours' : 'the last hour';
      return {
        subject: 'A sending limit was reached',
        text: `${who} reached its sending limit of ${detail.limit ?? '?'} recipients in ${per} on ${when(at)}${from}; further mail is refused until its count falls below the limit. If these messages were not meant to be sent, the password of ${who} may be known to someone else: change it now.`,
      };
    }
    case 'new-network':
      return {
        subject: 'A login from a new network',
        text: `${label} was logged into over ${PROTOCOLS[detail.protocol ?? 'web']}${from} on ${when(at)}, a network it had not been used from before. If this was you (a new device, a trip, a new provider), there is nothing to do. If not, change your password now and look at the recent activity on your account page.`,
      };
  }
}

const parseDetail = (text: string): AlertDetail => {
  try {
    return JSON.parse(text) as AlertDetail;
  } catch {
    return {};
  }
};

export function createAlerts({ stores, clock, log, mailer }: { stores: Pick<Stores, 'accounts' | 'admins' | 'notices'>; clock: Clock; log: Logger; mailer: Mailer | null }): Alerts {
  const sending = new Set<Promise<void>>();

  const keep = (owner: SessionOwner, notice: Notice) =>
    stores.notices.addNotice(owner, notice).catch((err: unknown) => log.warn({ err, owner, kind: notice.kind }, 'alert notice not kept'));

  const deliver = async (owner: SessionOwner, notice: Notice, alsoTo: readonly string[]) => {
    // Admins have no mailbox to write to; a flood waits for the owners' visits.
    if (!mailer || !owner.startsWith('mailbox:') || sending.size > MAX_SENDING) return keep(owner, notice);
    const account = await stores.accounts.findAccountById(Number(owner.slice('mailbox:'.length)));
    if (!account) return;
    const { subject, text } = describe(notice.kind, account.login, parseDetail(notice.detail), notice.at);
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
    async take(owner) {
      const notices = await stores.notices.takeNotices(owner);
      if (notices.length === 0) return [];
      const [kind, id] = owner.split(':');
      const who = kind === 'admin' ? await stores.admins.findAdminById(Number(id)) : await stores.accounts.findAccountById(Number(id));
      const label = who ? ('username' in who ? who.username : who.login) : 'your account';
      return notices.map((n) => ({ at: n.at, text: describe(n.kind, label, parseDetail(n.detail), n.at).text }));
    },
    async settled() {
      while (sending.size > 0) await Promise.all([...sending]);
    },
  };
}
