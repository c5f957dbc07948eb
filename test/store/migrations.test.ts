import assert from 'node:assert/strict';
import path from 'node:path';
import { after, test } from 'node:test';
import { migrate, openDatabase, readMigrations } from '../../src/store/sqlite/db.js';
import { tempDataDir } from '../helpers/env.js';

const { dir, cleanup } = tempDataDir();
after(cleanup);

test('opening applies every migration once, records it, and sets the durability pragmas', () => {
  const file = path.join(dir, 'm.db');
  const db = openDatabase(file);
  const rows = db.prepare('SELECT version, name FROM schema_migrations ORDER BY version').all() as Array<{ version: number; name: string }>;
  assert.deepEqual(rows.map((r) => r.version), readMigrations().map((m) => m.version));
  assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
  assert.equal(db.pragma('synchronous', { simple: true }), 2);
  assert.equal(db.pragma('foreign_keys', { simple: true }), 1);
  assert.equal(db.pragma('busy_timeout', { simple: true }), 250);
  assert.deepEqual(migrate(db), []);
  db.close();
  const again = openDatabase(file);
  assert.equal((again.prepare('SELECT count(*) AS n FROM schema_migrations').get() as { n: number }).n, rows.length);
  again.close();
});

test('a failing migration leaves nothing half-applied', () => {
  const db = openDatabase(path.join(dir, 'f.db'));
  const before = (db.prepare('SELECT count(*) AS n FROM schema_migrations').get() as { n: number }).n;
  assert.throws(() => migrate(db, [{ version: 999, name: 'broken', sql: 'CREATE TABLE t999 (x); SELECT * FROM missing_table;' }]));
  assert.equal(db.prepare("SELECT name FROM sqlite_master WHERE name = 't999'").get(), undefined);
  assert.equal((db.prepare('SELECT count(*) AS n FROM schema_migrations').get() as { n: number }).n, before);
  db.close();
});

test('one login namespace: a mailbox and a credential cannot share a login', () => {
  const db = openDatabase(path.join(dir, 'n.db'));
  db.prepare("INSERT INTO domains (name, created_at) VALUES ('ns.example', 0)").run();
  const insert = db.prepare(`INSERT INTO accounts (kind, domain_id, login, local_part, guid, password_hash, created_at, updated_at)
    VALUES (?, 1, 'app-x1y2@ns.example', 'app-x1y2', ?, 'h', 0, 0)`);
  insert.run('mailbox', null);
  assert.throws(() => insert.run('credential', '92703823-f3a4-48e2-8e87-7adf25454800'), /UNIQUE/);
  db.close();
});
