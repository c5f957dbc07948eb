import assert from 'node:assert/strict';
import type { TestServer } from '../helpers/server.js';

/**
 * Every table that holds what mailpass owns, serialized. Left out on purpose: `audit_log` (refused
 * attempts are audited), `sessions` (an anonymous visit stores its CSRF token in a session) and
 * `api_tokens.last_used_at` (an API call records it at most once a minute). Those change legitimately
 * when a request is refused; nothing else may.
 */
export async function dumpDatabase(server: Pick<TestServer, 'query'>): Promise<string> {
  const tables = {
    domains: await server.query('SELECT * FROM domains ORDER BY id'),
    accounts: await server.query('SELECT * FROM accounts ORDER BY id'),
    admins: await server.query('SELECT * FROM admins ORDER BY id'),
    admin_domains: await server.query('SELECT * FROM admin_domains ORDER BY admin_id, domain_id'),
    api_tokens: await server.query('SELECT id, admin_id, name, prefix, token_hash, created_at, revoked_at FROM api_tokens ORDER BY id'),
    settings: await server.query('SELECT * FROM settings ORDER BY key'),
    schema_migrations: await server.query('SELECT version, name FROM schema_migrations ORDER BY version'),
  };
  return JSON.stringify(tables);
}

/** Signs of an internal error leaking out: a stack frame, a source path, an error class name. */
const LEAK = /\n\s+at [^\n]+:\d+:\d+|node_modules|\.ts:\d+|\b(?:Type|Reference|Range|Syntax|Sqlite|Zod)Error\b|SQLITE_/;

export function assertNoLeak(body: string, context: string) {
  const m = LEAK.exec(body);
  assert.equal(m, null, `${context}: internal detail in the response: ${m?.[0]}`);
}
