import { createHmac, randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { canSeeDomain, describeActor, isSuper, type Actor } from './actors.js';
import type { Audit } from './audit.js';
import { NotFoundError, ValidationError } from './errors.js';
import { isPublicAddress } from './networks.js';
import type { Clock, Logger, SessionOwner, Stores } from './ports.js';
import type { LeasedWebhook, Webhook, WebhookDelivery } from './ports/webhooks.js';
import { isWebhookEvent, payloadOf, TEST_EVENT, WEBHOOK_EVENTS } from './webhook-events.js';

// SPEC §19: webhooks, their outbox's delivery, and the Standard Webhooks signature.

/** After a failed attempt n (1-based), the next waits RETRY_SECONDS[n - 1]; past the last, the event is failed. */
export const RETRY_SECONDS = [5, 30, 120, 600, 3600, 21_600, 86_400, 86_400, 86_400] as const;
/** A webhook failing this long is paused and its admins told. */
export const PAUSE_AFTER_SECONDS = 3 * 86_400;
/** An answer must come within this (SPEC §19); a later one is a failed attempt. */
export const DELIVERY_TIMEOUT_MS = 10_000;
/** How many deliveries a webhook's page lists. */
export const DELIVERIES_SHOWN = 50;
/** How long delivered and failed events stay listed. */
export const DELIVERIES_KEPT_DAYS = 30;
const MAX_URL_LENGTH = 2000;

/** Sends one delivery. The adapter refuses targets that are not public unless WEBHOOK_ALLOW_PRIVATE, and never follows a redirect. */
export interface WebhookSender {
  post(url: string, headers: Record<string, string>, body: string): Promise<{ status: number } | { error: string }>;
}

/** `v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">` keyed with the secret's bytes (the base64 after `whsec_`). */
export function signature(secret: string, id: string, timestamp: number, body: string): string {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}

/** A new signing secret: 32 random bytes, as Standard Webhooks writes them. */
export const newSecret = () => `whsec_${randomBytes(32).toString('base64')}`;

/**
 * A webhook's URL as given: http(s), a host, no user or password in it, and a literal address
 * only when public. `http://` only with WEBHOOK_ALLOW_PRIVATE=true: events name mailboxes, which a
 * target on the Internet should not receive in the clear. Names are checked again at each delivery,
 * against every address DNS answers (the adapter).
 */
export function checkWebhookUrl(input: unknown, allowPrivate: boolean): string {
  const fail = (why: string): never => {
    throw new ValidationError({ url: [why] });
  };
  if (typeof input !== 'string' || input.trim() === '') return fail('Is required.');
  const text = input.trim();
  if (text.length > MAX_URL_LENGTH) return fail(`Must be at most ${MAX_URL_LENGTH} characters.`);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return fail('Must be an absolute http:// or https:// URL.');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return fail('Must be an absolute http:// or https:// URL.');
  if (url.protocol === 'http:' && !allowPrivate) return fail('Must use https:// (http:// only with WEBHOOK_ALLOW_PRIVATE=true).');
  if (url.username || url.password) return fail('Must not hold a user name or password.');
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host) !== 0 && !allowPrivate && !isPublicAddress(host)) return fail('Must not be a loopback, private or link-local address.');
  if (!allowPrivate && (host === 'localhost' || host.endsWith('.localhost'))) return fail('Must not be a loopback, private or link-local address.');
  return url.href;
}

export interface WebhookView extends Webhook {
  deliveries: WebhookDelivery[];
}

export interface WebhookService {
  /** Every webhook a super admin (or the CLI) sees; a domain admin those of its domains. */
  list(actor: Actor): Promise<Webhook[]>;
  /** Adds a webhook; its secret is returned this once. A domain admin must name one of its domains. */
  add(actor: Actor, input: { url: unknown; events: unknown; domain?: unknown }, ip?: string | null): Promise<{ webhook: Webhook; secret: string }>;
  get(actor: Actor, id: string): Promise<WebhookView>;
  remove(actor: Actor, id: string, ip?: string | null): Promise<void>;
  /** Queues `webhook.test` for this webhook alone, behind its pending events. */
  sendTest(actor: Actor, id: string, ip?: string | null): Promise<void>;
  /** Resumes a paused webhook: its oldest pending event is sent afresh. */
  resume(actor: Actor, id: string, ip?: string | null): Promise<void>;
}

const listOf = (input: unknown): string[] =>
  (Array.isArray(input) ? input : typeof input === 'string' ? input.split(',') : [])
    .map((e) => String(e).trim())
    .filter(Boolean);

export function createWebhookService({ stores, clock, audit, allowPrivate }: { stores: Pick<Stores, 'webhooks' | 'domains'>; clock: Clock; audit: Audit; allowPrivate: boolean }): WebhookService {
  const mayManage = (actor: Actor) => actor.kind === 'system' || actor.kind === 'admin';
  const visible = async (actor: Actor, id: string) => {
    const webhook = mayManage(actor) && typeof id === 'string' ? await stores.webhooks.findWebhook(id) : null;
    if (!webhook) throw new NotFoundError('webhook-not-found', 'Webhook not found');
    // A domain admin sees its domains' webhooks; those of every domain are super admins'.
    if (webhook.domainId === null ? !isSuper(actor) : !canSeeDomain(actor, webhook.domainId)) throw new NotFoundError('webhook-not-found', 'Webhook not found');
    return webhook;
  };
  return {
    async list(actor) {
      if (!mayManage(actor)) return [];
      if (isSuper(actor)) return stores.webhooks.listWebhooks(null);
      return actor.kind === 'admin' ? stores.webhooks.listWebhooks(actor.domainIds) : [];
    },

    async add(actor, input, ip = null) {
      if (!mayManage(actor)) throw new NotFoundError('webhook-not-found', 'Webhook not found');
      const errors: Record<string, string[]> = {};
      let url = '';
      try {
        url = checkWebhookUrl(input.url, allowPrivate);
      } catch (err) {
        if (!(err instanceof ValidationError)) throw err;
        Object.assign(errors, err.fields);
      }
      const events = [...new Set(listOf(input.events))];
      const unknown = events.filter((e) => !isWebhookEvent(e));
      if (events.length === 0) errors.events = ['Choose at least one event.'];
      else if (unknown.length > 0) errors.events = [`Unknown event ${unknown.join(', ')}.`];
      const domainName = typeof input.domain === 'string' ? input.domain.trim().toLowerCase() : '';
      let domainId: number | null = null;
      if (domainName) {
        const domain = await stores.domains.findDomainByName(domainName);
        if (!domain || !canSeeDomain(actor, domain.id)) errors.domain = ['Is not a domain you administer.'];
        else domainId = domain.id;
      } else if (!isSuper(actor)) {
        errors.domain = ['Choose one of your domains.'];
      }
      if (Object.keys(errors).length > 0) throw new ValidationError(errors);
      const secret = newSecret();
      const id = `wh_${randomBytes(12).toString('hex')}`;
      const ordered = WEBHOOK_EVENTS.filter((e) => events.includes(e));
      const entry = audit.entry(actor, 'webhook.create', id, ip, `${new URL(url).origin} ${ordered.join(',')}${domainName ? ` domain:${domainName}` : ''}`);
      const webhook = await stores.webhooks.insertWebhook({ id, url, events: ordered, domainId, secret, createdBy: describeActor(actor), createdAt: clock.now() }, entry);
      audit.logged(entry);
      return { webhook, secret };
    },

    async get(actor, id) {
      const webhook = await visible(actor, id);
      return { ...webhook, deliveries: await stores.webhooks.listDeliveries(webhook.id, DELIVERIES_SHOWN) };
    },

    async remove(actor, id, ip = null) {
      const webhook = await visible(actor, id);
      const entry = audit.entry(actor, 'webhook.delete', webhook.id, ip);
      if (await stores.webhooks.deleteWebhook(webhook.id, entry)) audit.logged(entry);
    },

    async sendTest(actor, id, ip = null) {
      const webhook = await visible(actor, id);
      const at = clock.now();
      const entry = audit.entry(actor, 'webhook.test', webhook.id, ip);
      await stores.webhooks.addWebhookEvent(webhook.id, { type: TEST_EVENT, payload: payloadOf(TEST_EVENT, at, { webhook: webhook.id }), at }, entry);
      audit.logged(entry);
    },

    async resume(actor, id, ip = null) {
      const webhook = await visible(actor, id);
      if (webhook.pausedAt === null) return;
      const entry = audit.entry(actor, 'webhook.resume', webhook.id, ip);
      if (await stores.webhooks.setWebhookPaused(webhook.id, null, clock.now(), entry)) audit.logged(entry);
    },
  };
}

export interface WebhookDispatch {
  /** Starts polling the outbox. */
  start(): void;
  /** Stops polling and waits for the deliveries under way. */
  stop(): Promise<void>;
  /** One pass: leases the due webhooks and sends what is due of each; resolves when done (tests, benchmarks). */
  runOnce(): Promise<number>;
}

/**
 * Delivers the outbox. A process takes a webhook's lease (one UPDATE: of several nodes or workers,
 * one gets it), then sends its due events one after the other, oldest first; a failure stops that
 * webhook's queue until the retry is due, so that order holds. A process that dies holding a lease
 * leaves the event in flight pending: the lease expires and another sends it again (at least once).
 */
export function createWebhookDelivery({
  stores,
  clock,
  sender,
  audit,
  log,
  owner = `${process.pid}-${randomBytes(6).toString('hex')}`,
  pollMs = 1000,
  concurrency = 8,
  batch = 100,
  adminsOf,
  tell,
}: {
  stores: Pick<Stores, 'webhooks'>;
  clock: Clock;
  sender: WebhookSender;
  audit: Audit;
  log: Logger;
  owner?: string;
  pollMs?: number;
  concurrency?: number;
  batch?: number;
  /** The admins to tell of a paused webhook: its domain's and the super admins (null: every domain). */
  adminsOf: (domainId: number | null) => Promise<SessionOwner[]>;
  tell: (admin: SessionOwner, url: string) => void;
}): WebhookDispatch {
  // A lease outlives one attempt's timeout with room; each recorded attempt extends it.
  const leaseSeconds = Math.ceil(DELIVERY_TIMEOUT_MS / 1000) * 3;
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<number> | null = null;
  let stopped = false;

  const pause = async (webhook: LeasedWebhook, now: number) => {
    const entry = audit.entry('webhooks', 'webhook.pause', webhook.id, null, 'failing for 3 days');
    if (!(await stores.webhooks.setWebhookPaused(webhook.id, now, now, entry))) return;
    audit.logged(entry);
    log.warn({ webhook: webhook.id }, 'webhook paused: failing for 3 days');
    for (const admin of await adminsOf(webhook.domainId)) tell(admin, webhook.url);
  };

  /** Sends what is due of one leased webhook, in order; returns how many attempts were made. */
  const drain = async (webhook: LeasedWebhook) => {
    let attempts = 0;
    let failingSince = webhook.failingSince;
    try {
      for (;;) {
        const due = await stores.webhooks.dueEvents(webhook.id, clock.now(), batch);
        if (due.length === 0 || stopped) return attempts;
        for (const event of due) {
          if (stopped) return attempts;
          const timestamp = clock.now();
          const headers = {
            'content-type': 'application/json',
            'user-agent': 'mailpass-webhooks',
            'webhook-id': event.messageId,
            'webhook-timestamp': String(timestamp),
            'webhook-signature': signature(webhook.secret, event.messageId, timestamp, event.payload),
          };
          const answer = await sender.post(webhook.url, headers, event.payload).catch((err: unknown) => ({ error: (err as Error).message }));
          attempts++;
          const now = clock.now();
          const ok = 'status' in answer && answer.status >= 200 && answer.status < 300;
          const tries = event.attempts + 1;
          const delay = RETRY_SECONDS[tries - 1];
          failingSince = ok ? null : (failingSince ?? now);
          const result = {
            state: ok ? ('delivered' as const) : delay === undefined ? ('failed' as const) : ('pending' as const),
            attempts: tries,
            nextAt: ok || delay === undefined ? now : now + delay,
            lastStatus: 'status' in answer ? answer.status : null,
            lastError: 'error' in answer ? answer.error.slice(0, 200) : null,
            at: now,
          };
          // The record extends the lease for the next event; a lease lost meanwhile stops here.
          if (!(await stores.webhooks.recordAttempt(event.id, webhook.id, owner, result, failingSince, now + leaseSeconds))) return attempts;
          if (!ok) {
            log.info({ webhook: webhook.id, event: event.messageId, attempts: tries, status: result.lastStatus, error: result.lastError }, result.state === 'failed' ? 'webhook event failed' : 'webhook delivery failed; retried later');
            if (failingSince !== null && now - failingSince >= PAUSE_AFTER_SECONDS) await pause(webhook, now);
            // A failed event gives way to the next; a pending one holds the queue until its retry.
            if (result.state === 'pending') return attempts;
          }
        }
      }
    } finally {
      await stores.webhooks.releaseLease(webhook.id, owner).catch((err: unknown) => log.warn({ err, webhook: webhook.id }, 'webhook lease not released'));
    }
  };

  const pass = async () => {
    let total = 0;
    for (;;) {
      const leased = await stores.webhooks.leaseDueWebhooks(owner, clock.now(), clock.now() + leaseSeconds, concurrency);
      if (leased.length === 0) return total;
      const counts = await Promise.all(leased.map(drain));
      total += counts.reduce((a, b) => a + b, 0);
      if (stopped) return total;
    }
  };

  const runOnce = () =>
    (running ??= pass()
      .catch((err: unknown) => {
        log.warn({ err }, 'webhook deliveries interrupted');
        return 0;
      })
      .finally(() => (running = null)));

  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => void runOnce().then(schedule), pollMs);
    timer.unref?.();
  };

  return {
    start() {
      stopped = false;
      schedule();
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
    runOnce,
  };
}
