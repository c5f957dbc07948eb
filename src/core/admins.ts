import { isSuper, type Actor } from './actors.js';
import type { Alerts } from './alerts.js';
import type { Audit } from './audit.js';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from './errors.js';
import type { Logins } from './logins.js';
import type { PasswordInput } from './mailboxes.js';
import { checkOwnPasswordChange, type OwnPasswordInput } from './own-password.js';
import type { PasswordRules } from './password-rules.js';
import type { Admin, Clock, Hasher, Stores } from './ports.js';

const USERNAME = /^[a-z0-9][a-z0-9._-]{1,63}$/;
export const INITIAL_ADMIN = 'admin';

type AdminActor = Extract<Actor, { kind: 'admin' }>;

export interface AdminService {
  /** A generated password is returned once; its admin must choose a new one at its first login. */
  addAdmin(
    actor: Actor,
    input: { username: unknown; isSuper: boolean; domains: readonly unknown[] } & PasswordInput,
    ip?: string | null,
  ): Promise<{ admin: Admin; password: string | null }>;
  listAdmins(actor: Actor): Promise<Admin[]>;
  getAdmin(actor: Actor, username: unknown): Promise<Admin>;
  /** The admin's own account. */
  getOwnAdmin(actor: AdminActor): Promise<Admin>;
  /** A super admin changes an admin's role and domains; the last enabled super admin stays one. */
  updateAdmin(actor: Actor, username: unknown, input: { isSuper: boolean; domains: readonly unknown[] }, ip?: string | null): Promise<Admin>;
  /** A disabled admin's sessions end and its tokens stop at once; the last enabled super admin cannot be disabled. */
  setDisabled(actor: Actor, username: unknown, disabled: boolean, ip?: string | null): Promise<Admin>;
  deleteAdmin(actor: Actor, username: unknown, ip?: string | null): Promise<Admin>;
  /** `mailpass admin passwd`: sets a password (given or generated); sessions end, tokens are revoked. */
  setPassword(actor: Actor, username: unknown, input: PasswordInput, ip?: string | null): Promise<{ admin: Admin; password: string; generated: boolean }>;
  /** An admin changes its own password knowing the current one (SPEC §8); sessions end, tokens are revoked. */
  changeOwnPassword(actor: AdminActor, input: OwnPasswordInput, ip?: string | null): Promise<void>;
  /**
   * SPEC §18: an admin as the identity provider's groups describe it, created (with a random local
   * password nobody is shown: it logs in through the provider) or brought to those rights.
   * Returns null when its name is not an admin name, or when the change would leave no enabled
   * super admin.
   */
  provision(username: string, rights: { isSuper: boolean; domains: readonly string[] }, ip: string | null): Promise<Admin | null>;
  /** On an empty database, creates the super admin `admin`; returns its password when it was generated. */
  ensureInitialAdmin(password: string | undefined): Promise<{ created: boolean; generatedPassword: string | null }>;
}

export interface AdminDeps {
  stores: Pick<Stores, 'admins' | 'domains'>;
  hasher: Hasher;
  clock: Clock;
  audit: Audit;
  rules: PasswordRules;
  logins: Pick<Logins, 'verifyCurrentPassword'>;
  alerts: Pick<Alerts, 'raise'>;
}

export function createAdminService(deps: AdminDeps): AdminService {
  const { stores, hasher, clock, audit, rules, alerts } = deps;
  const notFound = () => new NotFoundError('admin-not-found', 'Admin not found');
  const ctxOf = (username: string) => ({ words: [username] });

  const find = async (actor: Actor, input: unknown) => {
    if (!isSuper(actor)) throw notFound();
    const username = typeof input === 'string' ? input.trim().toLowerCase() : '';
    const admin = USERNAME.test(username) ? await stores.admins.findAdminByUsername(username) : null;
    if (!admin) throw notFound();
    return admin;
  };

  const domainIdsOf = async (domains: readonly unknown[]) => {
    const ids: number[] = [];
    for (const d of domains) {
      const domain = typeof d === 'string' ? await stores.domains.findDomainByName(d.trim().toLowerCase()) : null;
      if (!domain) throw new ValidationError({ domain: [`Unknown domain ${String(d)}.`] });
      if (!ids.includes(domain.id)) ids.push(domain.id);
    }
    return ids;
  };

  const lastSuper = () => new ConflictError('last-super-admin', 'The last enabled super admin cannot be disabled, deleted or made a domain admin');
  /** The panel does not let an admin lock itself out; another super admin (or the CLI) can. */
  const notSelf = (actor: Actor, admin: Admin) => {
    if (actor.kind === 'admin' && actor.id === admin.id) throw new ForbiddenError('forbidden', 'You cannot disable or delete your own account');
  };

  const create = async (actor: Actor | string, username: string, password: string, superAdmin: boolean, domainIds: number[], mustChange: boolean, ip: string | null) => {
    if (await stores.admins.findAdminByUsername(username)) throw new ConflictError('admin-exists', `Admin ${username} already exists`);
    const entry = audit.entry(actor, 'admin.create', username, ip, superAdmin ? 'super' : `domains:${domainIds.length}`);
    const admin = await stores.admins.insertAdmin({ username, passwordHash: await hasher.hash(password), isSuper: superAdmin, domainIds, mustChangePassword: mustChange, now: clock.now() }, entry)
      .catch((err: unknown) => {
        throw err instanceof ConflictError ? new ConflictError('admin-exists', `Admin ${username} already exists`, { cause: err }) : err;
      });
    audit.logged(entry);
    return admin;
  };

  const writePassword = async (admin: Admin, password: string, mustChange: boolean, entry: ReturnType<Audit['entry']>, by: 'owner' | 'admin') => {
    await stores.admins.setAdminPasswordAndEndSessions(admin.id, await hasher.hash(password), clock.now(), { mustChangePassword: mustChange, audit: entry });
    audit.logged(entry);
    alerts.raise(`admin:${admin.id}`, 'password-changed', { by, ip: by === 'owner' ? entry.ip : null });
  };

  return {
    async addAdmin(actor, input, ip = null) {
      if (!isSuper(actor)) throw notFound();
      const username = typeof input.username === 'string' ? input.username.trim().toLowerCase() : '';
      if (!USERNAME.test(username)) {
        throw new ValidationError({ username: ['Must be 2 to 64 letters, digits, dots, dashes or underscores.'] });
      }
      const domainIds = await domainIdsOf(input.domains);
      if (!input.isSuper && domainIds.length === 0) throw new ValidationError({ domain: ['A domain admin needs at least one domain.'] });
      const generated = 'generate' in input;
      const password = generated ? rules.generate(ctxOf(username)) : await rules.assertAcceptable(input.password, ctxOf(username), 'password');
      const admin = await create(actor, username, password, input.isSuper, input.isSuper ? [] : domainIds, generated, ip);
      return { admin, password: generated ? password : null };
    },

    async provision(input, rights, ip) {
      const username = input.trim().toLowerCase();
      if (!USERNAME.test(username)) return null;
      const domainIds: number[] = [];
      for (const name of rights.domains) {
        const domain = await stores.domains.findDomainByName(name.trim().toLowerCase());
        if (domain && !domainIds.includes(domain.id)) domainIds.push(domain.id);
      }
      const wanted = { isSuper: rights.isSuper, domainIds: rights.isSuper ? [] : domainIds.sort((a, b) => a - b) };
      const existing = await stores.admins.findAdminByUsername(username);
      if (!existing) return create('oidc', username, rules.generate(ctxOf(username)), wanted.isSuper, wanted.domainIds, false, ip);
      const same = existing.isSuper === wanted.isSuper && [...existing.domainIds].sort((a, b) => a - b).join() === wanted.domainIds.join();
      if (same) return existing;
      const entry = audit.entry('oidc', 'admin.update', username, ip, wanted.isSuper ? 'super' : `domains:${wanted.domainIds.length}`);
      if (!(await stores.admins.updateAdmin(existing.id, wanted, clock.now(), entry))) return null;
      audit.logged(entry);
      return (await stores.admins.findAdminById(existing.id))!;
    },

    async listAdmins(actor) {
      if (!isSuper(actor)) return [];
      return stores.admins.listAdmins();
    },

    getAdmin: find,

    async getOwnAdmin(actor) {
      const admin = await stores.admins.findAdminById(actor.id);
      if (!admin) throw notFound();
      return admin;
    },

    async updateAdmin(actor, username, input, ip = null) {
      const admin = await find(actor, username);
      const domainIds = await domainIdsOf(input.domains);
      if (!input.isSuper && domainIds.length === 0) throw new ValidationError({ domain: ['A domain admin needs at least one domain.'] });
      const entry = audit.entry(actor, 'admin.update', admin.username, ip, input.isSuper ? 'super' : `domains:${domainIds.length}`);
      if (!(await stores.admins.updateAdmin(admin.id, { isSuper: input.isSuper, domainIds }, clock.now(), entry))) throw lastSuper();
      audit.logged(entry);
      return (await stores.admins.findAdminById(admin.id))!;
    },

    async setDisabled(actor, username, disabled, ip = null) {
      const admin = await find(actor, username);
      if (disabled) notSelf(actor, admin);
      const entry = audit.entry(actor, disabled ? 'admin.disable' : 'admin.enable', admin.username, ip);
      if (!(await stores.admins.updateAdmin(admin.id, { disabled }, clock.now(), entry))) throw lastSuper();
      audit.logged(entry);
      return { ...admin, disabled };
    },

    async deleteAdmin(actor, username, ip = null) {
      const admin = await find(actor, username);
      notSelf(actor, admin);
      const entry = audit.entry(actor, 'admin.delete', admin.username, ip);
      if (!(await stores.admins.deleteAdmin(admin.id, entry))) throw lastSuper();
      audit.logged(entry);
      return admin;
    },

    async setPassword(actor, username, input, ip = null) {
      const admin = await find(actor, username);
      const generated = 'generate' in input;
      const password = generated ? rules.generate(ctxOf(admin.username)) : await rules.assertAcceptable(input.password, ctxOf(admin.username), 'password', admin.passwordHash);
      // A printed password is someone else's knowledge: its admin chooses its own at the next login.
      await writePassword(admin, password, generated, audit.entry(actor, 'admin.password', admin.username, ip), 'admin');
      return { admin, password, generated };
    },

    async changeOwnPassword(actor, input, ip = null) {
      const admin = await this.getOwnAdmin(actor);
      const next = await checkOwnPasswordChange(deps, actor, admin.passwordHash, ctxOf(admin.username), input, ip);
      await writePassword(admin, next, false, audit.entry(actor, 'password.change', admin.username, ip), 'owner');
    },

    async ensureInitialAdmin(given) {
      if ((await stores.admins.countAdmins()) > 0) return { created: false, generatedPassword: null };
      const password = given === undefined ? rules.generate(ctxOf(INITIAL_ADMIN)) : await rules.assertAcceptable(given, ctxOf(INITIAL_ADMIN), 'INITIAL_ADMIN_PASSWORD');
      await create('system', INITIAL_ADMIN, password, true, [], given === undefined, null);
      return { created: true, generatedPassword: given === undefined ? password : null };
    },
  };
}
