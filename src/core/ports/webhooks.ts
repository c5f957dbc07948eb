import type { AuditEntry } from './audit.js';

export interface Webhook {
  id: string;
  url: string;
  events: string[];
  /** Null: every domain. */
  domainId: number | null;
  domainName: string | null;
  createdBy: string;
  createdAt: number;
  pausedAt: number | null;
  /** The first failed attempt since the last delivery (null: not failing). */
  failingSince: number | null;
}

export type DeliveryState = 'pending' | 'delivered' | 'failed';

/** One event of one webhook, as its page lists it. */
export interface WebhookDelivery {
  id: number;
  messageId: string;
  type: string;
  createdAt: number;
  state: DeliveryState;
  attempts: number;
  nextAt: number;
  /** The last answer's HTTP status; null when none came (lastError says why). */
  lastStatus: number | null;
  lastError: string | null;
  doneAt: number | null;
}

/** An event due to be sent now, the oldest pending of its webhook. */
export interface DueEvent {
  id: number;
  messageId: string;
  payload: string;
  createdAt: number;
  attempts: number;
  nextAt: number;
}

/** A webhook whose lease this process holds, with what sending needs. */
export interface LeasedWebhook {
  id: string;
  url: string;
  domainId: number | null;
  /** The signing secret, in the clear (the sealing decorator opens it). */
  secret: string;
  failingSince: number | null;
}

/** What one attempt came to. */
export interface AttemptResult {
  state: DeliveryState;
  attempts: number;
  /** When the next attempt is due (pending only). */
  nextAt: number;
  lastStatus: number | null;
  lastError: string | null;
  at: number;
}

export interface WebhookStore {
  insertWebhook(webhook: { id: string; url: string; events: string[]; domainId: number | null; secret: string; createdBy: string; createdAt: number }, audit: AuditEntry): Promise<Webhook>;
  /** Every webhook (null), or those of these domains; oldest first. */
  listWebhooks(domainIds: readonly number[] | null): Promise<Webhook[]>;
  findWebhook(id: string): Promise<Webhook | null>;
  /** Deletes a webhook and its outbox; false when there was none. */
  deleteWebhook(id: string, audit: AuditEntry): Promise<boolean>;
  /**
   * Pauses (a time) or resumes (null) a webhook. While paused it gets no new events; a resume
   * starts its oldest pending event afresh (no attempts, due now) and clears failingSince.
   */
  setWebhookPaused(id: string, pausedAt: number | null, now: number, audit: AuditEntry): Promise<boolean>;
  /** Queues an event for one webhook alone (Send test event), behind its pending ones. */
  addWebhookEvent(webhookId: string, event: { type: string; payload: string; at: number }, audit: AuditEntry): Promise<void>;
  /** A webhook's newest events, newest first. */
  listDeliveries(webhookId: string, limit: number): Promise<WebhookDelivery[]>;
  /**
   * Takes the lease of up to `limit` unpaused webhooks whose oldest pending event is due, whose
   * lease is free or expired: one statement, so that of two nodes asking at once one gets each.
   * When nothing is due (most polls), a read answers and nothing is written.
   */
  leaseDueWebhooks(owner: string, now: number, until: number, limit: number): Promise<LeasedWebhook[]>;
  releaseLease(webhookId: string, owner: string): Promise<void>;
  /** The webhook's oldest pending events, in order, from the first while it is due (none when the first waits). */
  dueEvents(webhookId: string, now: number, limit: number): Promise<DueEvent[]>;
  /**
   * Records an attempt while `owner` holds the webhook's lease, with the webhook's failingSince,
   * and extends the lease to `leaseUntil` for the next event; false, and nothing written, when the
   * lease was lost. Delivery bookkeeping: not audited.
   */
  recordAttempt(eventId: number, webhookId: string, owner: string, result: AttemptResult, failingSince: number | null, leaseUntil: number): Promise<boolean>;
  /** Deletes delivered and failed events done before `before`; returns how many. */
  pruneDeliveries(before: number): Promise<number>;
}
