-- SPEC §19: webhooks, and their outbox. An event's rows are written by the transaction of the
-- change it tells of (one per subscribed webhook), and delivered in `id` order per webhook by
-- whichever process holds the webhook's lease.
CREATE TABLE webhooks (
  id            TEXT    PRIMARY KEY,
  url           TEXT    NOT NULL,
  -- The subscribed event types between commas: ',mailbox.created,login.locked,'.
  events        TEXT    NOT NULL,
  -- NULL: every domain's events and those of no domain (a super admin's webhook).
  domain_id     INTEGER REFERENCES domains (id) ON DELETE CASCADE,
  -- The signing secret, sealed (sealed-secrets.ts).
  secret        TEXT    NOT NULL,
  created_by    TEXT    NOT NULL,
  created_at    INTEGER NOT NULL,
  paused_at     INTEGER,
  -- The first failed attempt since the last delivered one.
  failing_since INTEGER,
  lease_owner   TEXT,
  lease_until   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX webhooks_domain ON webhooks (domain_id);

CREATE TABLE webhook_events (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  -- `webhook-id`: the same at every attempt.
  message_id  TEXT    NOT NULL UNIQUE,
  webhook_id  TEXT    NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
  type        TEXT    NOT NULL,
  payload     TEXT    NOT NULL,
  created_at  INTEGER NOT NULL,
  state       TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
  attempts    INTEGER NOT NULL DEFAULT 0,
  next_at     INTEGER NOT NULL,
  -- The last answer's HTTP status (NULL: none came), or why there was none.
  last_status INTEGER,
  last_error  TEXT,
  done_at     INTEGER
);
CREATE INDEX webhook_events_pending ON webhook_events (webhook_id, id) WHERE state = 'pending';
CREATE INDEX webhook_events_webhook ON webhook_events (webhook_id, id);
CREATE INDEX webhook_events_done ON webhook_events (done_at) WHERE state <> 'pending';
