import type { Account, Admin, ApiToken, AppPassword, AuditEntry, AuditRecord, Clock, LimitCounters, LoginAttemptRecord, LoginBatcher, NetworkSeen, Stores } from '../../src/core/ports.js';

// Ports held in memory, for the core's use cases tested alone (no database, no server), with a
// clock the test moves: windows, caches and expiries pass without waiting. Only what the use case
// under test calls is here; any other method throws, naming itself, so a use case that starts to
// call one fails loudly rather than against a stand-in.

/** A clock the test sets and moves (Unix seconds). */
export function fakeClock(start = 1_800_000_000): Clock & { t: number; advance(seconds: number): void } {
  return {
    t: start,
    now() {
      return this.t;
    },
    advance(seconds) {
      this.t += seconds;
    },
  };
}

const only = <T extends object>(name: string, impl: Partial<T>): T =>
  new Proxy(impl, {
    get(target, key) {
      if (key in target) return (target as Record<string | symbol, unknown>)[key];
      if (typeof key === 'symbol' || key === 'then') return undefined;
      return () => {
        throw new Error(`${name}.${String(key)} is not held in memory: the use case under test called it`);
      };
    },
  }) as T;

/** Counters that expire by the fake clock, as the stored ones do by the real one (a window starts at its first point). */
export function memoryCounters(clock: Clock): LimitCounters & { keys(): string[] } {
  const m = new Map<string, { count: number; endsAt: number }>();
  const live = (key: string) => {
    const e = m.get(key);
    if (e && e.endsAt <= clock.now()) m.delete(key);
    return m.get(key);
  };
  return {
    async get(key) {
      const e = live(key);
      return e ? { count: e.count, msLeft: (e.endsAt - clock.now()) * 1000 } : { count: 0, msLeft: 0 };
    },
    async add(key, windowSeconds) {
      const e = live(key);
      if (e) return ++e.count;
      m.set(key, { count: 1, endsAt: clock.now() + windowSeconds });
      return 1;
    },
    async mark(key, seconds) {
      m.set(key, { count: 1, endsAt: clock.now() + seconds });
    },
    async delete(key) {
      m.delete(key);
    },
    keys: () => [...m.keys()].filter((k) => live(k)),
  };
}

/** What a login writes later, kept for the test to read. */
export function recordingBatcher(): LoginBatcher & { attempts: LoginAttemptRecord[]; audit: AuditEntry[]; logins: number[]; networks: NetworkSeen[] } {
  const b = {
    attempts: [] as LoginAttemptRecord[],
    audit: [] as AuditEntry[],
    logins: [] as number[],
    networks: [] as NetworkSeen[],
    recordLogin: (r: { accountId: number }) => void b.logins.push(r.accountId),
    recordRehash: () => {},
    recordAudit: (e: AuditEntry) => void b.audit.push(e),
    recordAttempt: (a: LoginAttemptRecord) => void b.attempts.push(a),
    recordAppLogin: () => {},
    recordNetwork: (n: NetworkSeen) => void b.networks.push(n),
    flush: async () => {},
    stop: async () => {},
  };
  return b;
}

/** Accounts, admins, app passwords, tokens, settings and the audit log, in maps. */
export function memoryStores() {
  const accounts = new Map<string, Account>();
  const admins = new Map<string, Admin>();
  const apps: AppPassword[] = [];
  const tokens = new Map<string, ApiToken>();
  const settings = new Map<string, string>();
  const audit: AuditRecord[] = [];
  const byId = <T extends { id: number }>(list: Iterable<T>, id: number) => [...list].find((x) => x.id === id) ?? null;
  const stores = {
    accounts: only<Stores['accounts']>('accounts', {
      findAccountByLogin: async (login) => accounts.get(login) ?? null,
      findAccountById: async (id) => byId(accounts.values(), id),
      readAccountVersions: async (ids) => new Map([...accounts.values()].filter((a) => ids.includes(a.id)).map((a) => [a.id, { passwordVersion: a.passwordVersion, disabled: a.disabled }])),
    }),
    admins: only<Stores['admins']>('admins', {
      findAdminByUsername: async (name) => admins.get(name) ?? null,
      findAdminById: async (id) => byId(admins.values(), id),
      rehashAdminPassword: async () => {},
    }),
    appPasswords: only<Stores['appPasswords']>('appPasswords', {
      findAppPassword: async (accountId, tag) => apps.find((a) => a.accountId === accountId && a.tag === tag) ?? null,
      setAppPasswordSelector: async () => {},
    }),
    tokens: only<Stores['tokens']>('tokens', {
      findTokenByHash: async (digest) => tokens.get(digest) ?? null,
      touchToken: async (id, now, ip) => {
        for (const t of tokens.values()) if (t.id === id) Object.assign(t, { lastUsedAt: now, lastUsedIp: ip });
      },
    }),
    settings: only<Stores['settings']>('settings', {
      getOrCreateSetting: async (key, create) => settings.get(key) ?? (settings.set(key, create()), settings.get(key)!),
      readSetting: async (key) => settings.get(key) ?? null,
    }),
    audit: only<Stores['audit']>('audit', {
      appendAudit: async (e) => void audit.push({ ...e, id: audit.length + 1 }),
      listAudit: async ({ limit, offset }) => ({ items: [...audit].reverse().slice(offset, offset + limit), total: audit.length }),
    }),
  };
  return { stores, accounts, admins, apps, tokens, audit };
}
