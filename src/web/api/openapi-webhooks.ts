import { TEST_EVENT, WEBHOOK_EVENTS, type WebhookEventType } from '../../core/webhook-events.js';

// SPEC §19's deliveries as OpenAPI 3.1 `webhooks`: one operation per event type, its body's
// schema (closed: a field the product adds must be documented here first) and an example.

const str = { type: 'string' };
const actor = { type: 'string', description: "Who made the change, as the audit log names it: `admin:alice`, `admin:alice (api)`, `mailbox:jane@example.com`, `cli`, `smtp`" };
const address = { type: 'string', description: 'The mailbox' };
const domain = { type: 'string' };
const ip = { type: ['string', 'null'], description: 'The client address' };

const closed = (properties: Record<string, object>) => ({ type: 'object', additionalProperties: false, required: Object.keys(properties), properties });

const DATA: Record<WebhookEventType | typeof TEST_EVENT, { summary: string; schema: object; example: Record<string, unknown> }> = {
  'mailbox.created': { summary: 'A mailbox was added', schema: closed({ address, domain, actor }), example: { address: 'jane@example.com', domain: 'example.com', actor: 'admin:alice' } },
  'mailbox.password_changed': {
    summary: "A mailbox's password was changed by its owner, reset by an admin, or reset through a link mailed to its recovery address",
    schema: closed({ address, domain, actor, by: { enum: ['owner', 'admin', 'recovery'] } }),
    example: { address: 'jane@example.com', domain: 'example.com', actor: 'mailbox:jane@example.com', by: 'owner' },
  },
  'mailbox.disabled': { summary: 'A mailbox was disabled', schema: closed({ address, domain, actor }), example: { address: 'jane@example.com', domain: 'example.com', actor: 'admin:alice (api)' } },
  'mailbox.deleted': { summary: 'A mailbox was deleted', schema: closed({ address, domain, actor }), example: { address: 'jane@example.com', domain: 'example.com', actor: 'cli' } },
  'credential.created': {
    summary: 'An SMTP credential was created',
    schema: closed({ username: str, domain, name: str, actor }),
    example: { username: 'wordpress-x7k2@example.com', domain: 'example.com', name: 'WordPress', actor: 'admin:alice' },
  },
  'credential.password_reset': { summary: "An SMTP credential's password was reset", schema: closed({ username: str, domain, actor }), example: { username: 'wordpress-x7k2@example.com', domain: 'example.com', actor: 'admin:alice' } },
  'credential.deleted': { summary: 'An SMTP credential was deleted', schema: closed({ username: str, domain, actor }), example: { username: 'wordpress-x7k2@example.com', domain: 'example.com', actor: 'admin:alice' } },
  'app_password.created': {
    summary: 'A mailbox made an app password',
    schema: closed({ address, domain, name: str, actor }),
    example: { address: 'jane@example.com', domain: 'example.com', name: 'Phone', actor: 'mailbox:jane@example.com' },
  },
  'second_factor.changed': {
    summary: "A second factor was added, or an account's second factors removed (an admin's go to webhooks of every domain only)",
    schema: closed({ login: str, owner: { enum: ['mailbox', 'admin'] }, change: { enum: ['added', 'removed'] }, method: { enum: ['totp', 'passkey', null] }, actor }),
    example: { login: 'jane@example.com', owner: 'mailbox', change: 'added', method: 'totp', actor: 'mailbox:jane@example.com' },
  },
  'login.locked': {
    summary: 'A login name or client address reached its failure limit: told once per lock, not at every attempt it refuses',
    schema: closed({ login: str, realm: { enum: ['mailbox', 'admin'] }, protocol: { enum: ['web', 'smtp', 'api', 'webmail'] }, ip }),
    example: { login: 'jane@example.com', realm: 'mailbox', protocol: 'smtp', ip: '203.0.113.7' },
  },
  'send_limit.reached': {
    summary: 'A login reached a sending limit for the first time in its window (SPEC §15)',
    schema: closed({ login: str, domain, limit: str, ip }),
    example: { login: 'jane@example.com', domain: 'example.com', limit: 'hour: 100 recipients', ip: '203.0.113.7' },
  },
  'relay.failed': {
    summary: 'The relay could not be reached, or refused a message at its end (SPEC §9)',
    schema: closed({ login: str, domain, reason: str, ip }),
    example: { login: 'jane@example.com', domain: 'example.com', reason: 'unreachable: connect ECONNREFUSED 127.0.0.1:10025', ip: '203.0.113.7' },
  },
  'webhook.test': { summary: '`Send test event` on the webhook\'s page: no change, only a delivery', schema: closed({ webhook: str }), example: { webhook: 'wh_5f0c9a7e2b1d4c3a8e6f7a9b' } },
};

const headers = [
  { name: 'webhook-id', in: 'header', required: true, description: 'The event, the same at every attempt: deduplicate on it', schema: { type: 'string', pattern: '^msg_[0-9a-f]{32}$' } },
  { name: 'webhook-timestamp', in: 'header', required: true, description: 'When this attempt was signed, Unix seconds: refuse one too far from now', schema: { type: 'string', pattern: '^[0-9]+$' } },
  {
    name: 'webhook-signature',
    in: 'header',
    required: true,
    description: '`v1,` and the base64 HMAC-SHA256 of `<webhook-id>.<webhook-timestamp>.<body>` keyed with the bytes of the secret (the base64 after `whsec_`); see docs/webhooks.md',
    schema: { type: 'string', pattern: '^v1,[A-Za-z0-9+/]{43}=$' },
  },
];

/** The schema of a delivery's body for `type`. */
export const webhookBodySchema = (type: keyof typeof DATA) => ({
  type: 'object',
  additionalProperties: false,
  required: ['type', 'timestamp', 'data'],
  properties: { type: { const: type }, timestamp: { type: 'string', format: 'date-time' }, data: DATA[type].schema },
});

export function webhooksDocument() {
  return Object.fromEntries(
    ([...WEBHOOK_EVENTS, TEST_EVENT] as Array<keyof typeof DATA>).map((type) => [
      type,
      {
        post: {
          operationId: `webhook_${type.replace(/\W/g, '_')}`,
          summary: DATA[type].summary,
          description:
            'Sent as a POST to the webhook\'s URL, at least once and in order per webhook; any answer but a 2xx within 10 s is retried after 5 s, 30 s, 2 min, 10 min, 1 h, 6 h, then daily for 3 days.',
          security: [],
          parameters: headers,
          requestBody: { required: true, content: { 'application/json': { schema: webhookBodySchema(type), example: { type, timestamp: '2026-12-07T10:26:00Z', data: DATA[type].example } } } },
          responses: { '2XX': { description: 'Received: the event is not sent again' } },
        },
      },
    ]),
  );
}
