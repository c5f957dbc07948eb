import { isSuper, type Actor } from './actors.js';
import type { Audit } from './audit.js';
import { ConflictError, NotFoundError, ValidationError } from './errors.js';
import type { PasswordInput } from './mailboxes.js';
import type { PasswordRules } from './password-rules.js';
import type { Admin, Clock, Hasher, Store } from './ports.js';

const USERNAME = /^[a-z0-9][a-z0-9._-]{1,63}$/;
export const INITIAL_ADMIN = 'admin';

export interface AdminService {
  addAdmin(
    actor: Actor,
    input: { username: unknown; isSuper: boolean; domains: readonly unknown[] } & PasswordInput,
    ip?: string | null,
  ): Promise<{ admin: Admin; password: string | null }>;
  listAdmins(actor: Actor): Promise<Admin[]>;
  /** On an empty database, creates the super admin `admin`; returns its password when it was generated. */
  ensureInitialAdmin(password: string | undefined): Promise<{ created: boolean; generatedPassword: string | null }>;
}

export function createAdminService({ store, hasher, clock, audit, rules }: { store: Store; hasher: Hasher; clock: Clock; audit: Audit; rules: PasswordRules }): AdminService {
  const create = async (actor: Actor | string, username: string, password: string, superAdmin: boolean, domainIds: number[], ip: string | null) => {
    if (await store.findAdminByUsername(username)) throw new ConflictError('admin-exists', `Admin ${username} already exists`);
    const admin = await store
      .insertAdmin({ username, passwordHash: await hasher.hash(password), isSuper: superAdmin, domainIds, now: clock.now() })
      .catch((err: unknown) => {
        throw err instanceof ConflictError ? new ConflictError('admin-exists', `Admin ${username} already exists`, { cause: err }) : err;
      });
    await audit.record(actor, 'admin.create', username, ip, superAdmin ? 'super' : `domains:${domainIds.length}`);
    return admin;
  };

  return {
    async addAdmin(actor, input, ip = null) {
      if (!isSuper(actor)) throw new NotFoundError('admin-not-found', 'Not found');
      const username = typeof input.username === 'string' ? input.username.trim().toLowerCase() : '';
      if (!USERNAME.test(username)) {
        throw new ValidationError({ username: ['Must be 2 to 64 letters, digits, dots, dashes or underscores.'] });
      }
      const domainIds: number[] = [];
      for (const d of input.domains) {
        const domain = typeof d === 'string' ? await store.findDomainByName(d.trim().toLowerCase()) : null;
        if (!domain) throw new ValidationError({ domain: [`Unknown domain ${String(d)}.`] });
        domainIds.push(domain.id);
      }
      if (!input.isSuper && domainIds.length === 0) throw new ValidationError({ domain: ['A domain admin needs at least one domain.'] });
      const ctx = { words: [username] };
      const generated = 'generate' in input;
      const password = generated ? rules.generate(ctx) : await rules.assertAcceptable(input.password, ctx, 'password');
      const admin = await create(actor, username, password, input.isSuper, input.isSuper ? [] : domainIds, ip);
      return { admin, password: generated ? password : null };
    },

    async listAdmins(actor) {
      if (!isSuper(actor)) return [];
      return store.listAdmins();
    },

    async ensureInitialAdmin(given) {
      if ((await store.countAdmins()) > 0) return { created: false, generatedPassword: null };
      const ctx = { words: [INITIAL_ADMIN] };
      const password = given === undefined ? rules.generate(ctx) : await rules.assertAcceptable(given, ctx, 'INITIAL_ADMIN_PASSWORD');
      await create('system', INITIAL_ADMIN, password, true, [], null);
      return { created: true, generatedPassword: given === undefined ? password : null };
    },
  };
}
