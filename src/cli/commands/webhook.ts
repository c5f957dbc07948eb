import { cliActor } from '../../core/actors.js';
import { isWebhookEvent, WEBHOOK_EVENTS } from '../../core/webhook-events.js';
import { UsageError, type Command } from '../command.js';

export const webhookAdd: Command = {
  path: ['webhook', 'add'],
  usage: 'mailpass webhook add <url> --events a,b [--domain D]',
  summary: "add a webhook; prints its id, then its signing secret (shown once)",
  help:
    'Events (SPEC §19), separated by commas:\n' +
    `  ${WEBHOOK_EVENTS.join(', ')}\n` +
    '  --domain D   only that domain\'s events (without it: every domain\'s, and those of admins)\n' +
    'The URL must be https:// on a public address, unless WEBHOOK_ALLOW_PRIVATE=true.\n' +
    'Deliveries are signed as Standard Webhooks do; see docs/webhooks.md.',
  options: {
    events: { type: 'string' },
    domain: { type: 'string' },
  },
  required: ['events'],
  positionals: 1,
  async run(ctx, [url], values) {
    const events = String(values.events ?? '').split(',').map((e) => e.trim()).filter(Boolean);
    const unknown = events.filter((e) => !isWebhookEvent(e));
    if (events.length === 0 || unknown.length > 0) throw new UsageError(`--events: ${events.length === 0 ? 'name at least one event' : `unknown event ${unknown.join(', ')}`} (known: ${WEBHOOK_EVENTS.join(', ')})`);
    const svc = await ctx.services();
    const { webhook, secret } = await svc.webhooks.add(cliActor, { url, events, domain: typeof values.domain === 'string' ? values.domain : undefined }, null);
    ctx.io.stdout(`${webhook.id}\n${secret}\n`);
  },
};
