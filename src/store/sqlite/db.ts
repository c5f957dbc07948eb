import { chmodSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readMigrationFiles, type Migration } from '../migration-files.js';
import Database from 'better-sqlite3';

export type Db = Database.Database;

const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url));

/** SPEC §7: wait at most 250 ms for a lock, then give up (the edge answers 503 / 451). */
export const BUSY_TIMEOUT_MS = 250;

export interface OpenOptions {
  readonly?: boolean;
  /** Apply pending migrations (the server and every writing CLI command do). */
  migrate?: boolean;
  /**
   * FULL (the default): an acknowledged write survives a power cut. NORMAL: for the connections
   * that write what is not worth an fsync on the event loop (web sessions, the limiter's counts).
   */
  synchronous?: 'FULL' | 'NORMAL';
}

/** Opens the database with the settings every connection needs and brings its schema up to date. */
export function openDatabase(file: string, options: OpenOptions = {}): Db {
  // The data directory holds the database, its keys and the spool: nobody else's to read, whatever
  // the umask, and also when it came with the checkout (./data) or was made by hand. A setgid
  // directory is the documented way to let Dovecot's group read (docs/dovecot.md): its group
  // keeps read access, others lose theirs.
  const dir = path.dirname(file);
  let shared = false;
  if (!options.readonly) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    shared = (statSync(dir).mode & 0o2000) !== 0;
    tighten(dir, shared ? 0o027 : 0o077);
  }
  const db = new Database(file, { readonly: options.readonly ?? false, fileMustExist: options.readonly ?? false });
  // SQLite gives the -wal and -shm files the database file's mode: set it before they exist.
  if (!options.readonly) for (const f of [file, `${file}-wal`, `${file}-shm`]) tighten(f, shared ? 0o037 : 0o077);
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  db.pragma('foreign_keys = ON');
  if (!options.readonly) {
    db.pragma('journal_mode = WAL');
    // An acknowledged password change must survive a power cut, not only a process crash.
    db.pragma(`synchronous = ${options.synchronous ?? 'FULL'}`);
  }
  if (options.migrate ?? !options.readonly) migrate(db);
  return db;
}

/** Takes the permission bits `remove` off a file or directory of ours; one that is not ours is left as it is. */
function tighten(target: string, remove: number) {
  try {
    const st = statSync(target);
    if ((st.mode & remove) !== 0 && (process.getuid?.() === undefined || st.uid === process.getuid())) chmodSync(target, st.mode & 0o7777 & ~remove);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

export type { Migration };

export const readMigrations = (dir = MIGRATIONS_DIR): Migration[] => readMigrationFiles(dir);

/** Applies each pending migration in a transaction of its own and records it. Returns the versions applied. */
export function migrate(db: Db, migrations = readMigrations()): number[] {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`);
  const applied = new Set(
    (db.prepare('SELECT version FROM schema_migrations').all() as Array<{ version: number }>).map((r) => r.version),
  );
  const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
  const done: number[] = [];
  for (const m of migrations) {
    if (applied.has(m.version)) continue;
    // IMMEDIATE: two processes starting at once must not both apply the same migration.
    db.transaction(() => {
      const again = db.prepare('SELECT 1 FROM schema_migrations WHERE version = ?').get(m.version);
      if (again) return;
      db.exec(m.sql);
      record.run(m.version, m.name, Math.floor(Date.now() / 1000));
      done.push(m.version);
    }).immediate();
  }
  return done;
}
