import type { OutboxEvent } from './webhooks.js';

export interface AuditEntry {
  at: number;
  actor: string;
  action: string;
  target: string;
  ip: string | null;
  detail?: string | null;
  /** SPEC §19: what the change tells subscribed webhooks, written with the entry (not a column of the log). */
  event?: OutboxEvent;
}

export interface AuditRecord extends AuditEntry {
  id: number;
}

/**
 * SPEC §4.2's audit log. A change writes its entry through its own store method, in its own
 * transaction; `appendAudit` is for what changes nothing (a failed login, a refusal).
 */
export interface AuditStore {
  appendAudit(entry: AuditEntry): Promise<void>;
  listAudit(query: { limit: number; offset: number }): Promise<{ items: AuditRecord[]; total: number }>;
  /** Deletes the entries written before `before`; returns how many. */
  pruneAudit(before: number): Promise<number>;
}
