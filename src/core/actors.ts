/** Who asks: the core decides what each actor may see and do. */
export type Actor =
  | { kind: 'admin'; id: number; username: string; isSuper: boolean; domainIds: readonly number[]; via?: 'web' | 'api' }
  | { kind: 'mailbox'; id: number; login: string }
  | { kind: 'system'; name: string };

export const cliActor: Actor = { kind: 'system', name: 'cli' };

export function describeActor(actor: Actor): string {
  switch (actor.kind) {
    case 'admin':
      return `admin:${actor.username}${actor.via === 'api' ? ' (api)' : ''}`;
    case 'mailbox':
      return `mailbox:${actor.login}`;
    case 'system':
      return actor.name;
  }
}

/** Super admins and the CLI see every domain; a domain admin only its own. */
export function canSeeDomain(actor: Actor, domainId: number): boolean {
  if (actor.kind === 'system') return true;
  if (actor.kind === 'admin') return actor.isSuper || actor.domainIds.includes(domainId);
  return false;
}

export function isSuper(actor: Actor): boolean {
  return actor.kind === 'system' || (actor.kind === 'admin' && actor.isSuper);
}
