/**
 * SPEC §19: what an audited change tells the webhooks subscribed to it. The core makes it with the
 * change's audit entry (AuditEntry.event); the store writes one outbox row per subscribed webhook
 * in the transaction that writes the entry.
 */
export interface OutboxEvent {
  type: string;
  /** The domain it is of (a domain's webhooks get it); null: only webhooks of every domain do. */
  domain: string | null;
  /** The body every subscribed webhook is sent: `{"type", "timestamp", "data"}`. */
  payload: string;
}

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
