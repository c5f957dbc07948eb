import type { OutboxEvent } from './ports/audit.js';

/** SPEC §19's events, in the order the panel lists them. */
export const WEBHOOK_EVENTS = [
  'mailbox.created',
  'mailbox.password_changed',
  'mailbox.disabled',
  'mailbox.deleted',
  'credential.created',
  'credential.password_reset',
  'credential.deleted',
  'app_password.created',
  'second_factor.changed',
  'login.locked',
  'send_limit.reached',
  'relay.failed',
] as const;

export type WebhookEventType = (typeof WEBHOOK_EVENTS)[number];

/** What `Send test event` sends: no change, only a proof that the target answers and checks signatures. */
export const TEST_EVENT = 'webhook.test';

export const isWebhookEvent = (type: string): type is WebhookEventType => (WEBHOOK_EVENTS as readonly string[]).includes(type);

/** The body of a delivery (Standard Webhooks): the same for every webhook it goes to, and at every attempt. */
export const payloadOf = (type: string, at: number, data: Record<string, unknown>) => JSON.stringify({ type, timestamp: new Date(at * 1000).toISOString().replace('.000Z', 'Z'), data });

const domainOf = (login: string) => {
  const at = login.lastIndexOf('@');
  return at > 0 ? login.slice(at + 1) : null;
};

const event = (type: WebhookEventType, at: number, domain: string | null, data: Record<string, unknown>): OutboxEvent => ({ type, domain, payload: payloadOf(type, at, data) });

/**
 * The event an audited change tells webhooks of, if any: audit entries are where every change is
 * already written in its own transaction (issue 30), so the outbox row rides along with the entry.
 * Data holds names, addresses and kinds, never a secret (SPEC §19); a mailbox is its `address` and a
 * credential its `username`, as the API names them. `actor` is the audit log's
 * (`admin:alice`, `mailbox:bob@example.com`, `smtp`, ...).
 */
export function eventOf(action: string, actor: string, target: string, ip: string | null, detail: string | null, at: number): OutboxEvent | undefined {
  // Every audited action comes here, an SMTP login's too: only its domain is read before the switch.
  const domain = domainOf(target);
  switch (action) {
    case 'mailbox.create':
      return event('mailbox.created', at, domain, { address: target, domain, actor });
    case 'password.change':
    case 'password.reset':
    case 'password.recover':
      // An admin's own password is not a mailbox's.
      if (domain === null || actor === `admin:${target}`) return undefined;
      return event('mailbox.password_changed', at, domain, { address: target, domain, actor, by: action === 'password.change' ? 'owner' : action === 'password.reset' ? 'admin' : 'recovery' });
    case 'mailbox.disable':
      return event('mailbox.disabled', at, domain, { address: target, domain, actor });
    case 'mailbox.delete':
      return event('mailbox.deleted', at, domain, { address: target, domain, actor });
    case 'credential.create':
      return event('credential.created', at, domain, { username: target, domain, name: detail, actor });
    case 'credential.reset':
      return event('credential.password_reset', at, domain, { username: target, domain, actor });
    case 'credential.delete':
      return event('credential.deleted', at, domain, { username: target, domain, actor });
    case 'app-password.create':
      return event('app_password.created', at, domain, { address: target, domain, name: detail, actor });
    case 'second-factor.add':
    case 'second-factor.remove': {
      // `detail` of a removal names whose it was; an addition is its owner's own.
      const admin = action === 'second-factor.add' ? actor.startsWith('admin:') : detail === 'admin';
      const data = { login: target, owner: admin ? 'admin' : 'mailbox', change: action === 'second-factor.add' ? 'added' : 'removed', method: action === 'second-factor.add' ? detail : null, actor };
      return event('second_factor.changed', at, admin ? null : domain, data);
    }
    case 'login.failure-limited':
      return event('login.locked', at, domain, { login: target, realm: 'mailbox', protocol: detail, ip });
    case 'admin-login.failure-limited':
      return event('login.locked', at, null, { login: target, realm: 'admin', protocol: detail, ip });
    case 'send-limit.reached':
      return event('send_limit.reached', at, domain, { login: target, domain, limit: detail, ip });
    case 'relay.failed':
      return event('relay.failed', at, domain, { login: target, domain, reason: detail, ip });
    default:
      return undefined;
  }
}
