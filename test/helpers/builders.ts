import { cliActor } from '../../src/core/actors.js';
import type { Services } from '../../src/services.js';

let counter = 0;
const unique = (prefix: string) => `${prefix}${++counter}${Math.random().toString(36).slice(2, 6)}`;

/** A password that meets the policy for any address of the tests. */
export const strongPassword = (tag = '') => `Kv7#pLq2!wZr${tag}`;

export async function aDomain(svc: Services, { name = `${unique('dom')}.test`, verified = true } = {}) {
  return svc.domains.addDomain(cliActor, name, { verified });
}

export async function aMailbox(svc: Services, { domain, local = unique('user'), password = strongPassword(), name = '' }: { domain: string; local?: string; password?: string; name?: string }) {
  const { mailbox } = await svc.mailboxes.addMailbox(cliActor, { address: `${local}@${domain}`, name, password });
  return { mailbox, address: mailbox.login, password };
}

export async function anAdmin(svc: Services, { username = unique('adm'), domains = [] as string[], isSuper = false, password = strongPassword('A') } = {}) {
  const { admin } = await svc.admins.addAdmin(cliActor, { username, isSuper, domains, password });
  return { admin, username, password };
}
