import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, closeSync, copyFileSync, constants, existsSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { readMigrations } from './db.js';
import { assertKeyOpens } from '../sealed-secrets.js';

const SIDE_FILES = ['-wal', '-shm', '-journal'];

function fsyncPath(file: string) {
  const fd = openSync(file, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

const sqliteCode = (err: unknown) => (err as { code?: unknown }).code;

/** Throws unless `file` is an intact SQLite database of mailpass whose migrations this version knows. */
export function checkBackup(file: string, shownAs: string, keyFile?: string) {
  const db = new Database(file, { fileMustExist: true });
  try {
    let integrity: unknown[];
    try {
      integrity = db.pragma('integrity_check') as unknown[];
    } catch (err) {
      if (sqliteCode(err) === 'SQLITE_NOTADB') throw new Error(`${shownAs} is not a SQLite database`, { cause: err });
      throw new Error(`${shownAs} is damaged: ${(err as Error).message}`, { cause: err });
    }
    const problems = integrity.map((row) => Object.values(row as object)[0]).filter((v) => v !== 'ok');
    if (problems.length > 0) throw new Error(`${shownAs} is damaged: ${String(problems[0])}`);
    if ((db.pragma('foreign_key_check') as unknown[]).length > 0) throw new Error(`${shownAs} is damaged: rows refer to rows it lacks`);
    const hasMigrations = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get();
    const versions = hasMigrations ? (db.prepare('SELECT version FROM schema_migrations ORDER BY version').all() as Array<{ version: number }>).map((r) => r.version) : [];
    if (!versions.includes(1)) throw new Error(`${shownAs} is not a mailpass database (it has no schema_migrations)`);
    const known = new Set(readMigrations().map((m) => m.version));
    const unknown = versions.find((v) => !known.has(v));
    if (unknown !== undefined) throw new Error(`${shownAs} comes from a newer mailpass (migration ${unknown} is unknown here); upgrade mailpass first`);
    // Issue 29: a backup holds its secrets sealed; restored where its key is not, nothing would start.
    if (keyFile !== undefined) {
      const check = (db.prepare("SELECT value FROM settings WHERE key = 'secret-key-check'").get() as { value: string } | undefined)?.value ?? null;
      try {
        assertKeyOpens(check, keyFile);
      } catch (err) {
        throw new Error(`${shownAs}: ${(err as Error).message}`, { cause: err });
      }
    }
  } finally {
    db.close();
  }
}

/**
 * Takes the current database from every other connection, or throws when another one has it open.
 * A running server keeps its WAL-mode database open, and SQLite lets a connection leave WAL mode
 * only when no other connection (in any process) has the file open: so leaving it is the test, with
 * no pid file to go stale. The lock taken then (EXCLUSIVE, kept until `release`) stops a server that
 * starts meanwhile from reading the old file.
 */
function takeDatabase(dbFile: string): { release(): void } {
  if (!existsSync(dbFile)) return { release() {} };
  const db = new Database(dbFile, { fileMustExist: true });
  try {
    db.pragma('busy_timeout = 0');
    // SQLite answers the mode it is in, which stays 'wal' when it could not leave it.
    if (db.pragma('journal_mode = DELETE', { simple: true }) !== 'delete') throw Object.assign(new Error('still in WAL mode'), { code: 'SQLITE_BUSY' });
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('BEGIN EXCLUSIVE');
  } catch (err) {
    db.close();
    const code = sqliteCode(err);
    if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') {
      throw new Error(`the database in ${path.dirname(dbFile)} is in use, probably by a running server; stop it first`, { cause: err });
    }
    // A file that is not a database (or is broken at its first page) cannot be open in a server.
    if (code === 'SQLITE_NOTADB' || (typeof code === 'string' && code.startsWith('SQLITE_CORRUPT'))) return { release() {} };
    throw err;
  }
  return {
    release() {
      db.close();
    },
  };
}

/**
 * Replaces the database with a copy of `source`: the copy is made and fsynced beside the database,
 * checked, then renamed over it, so that the database is at every moment either the old one or the
 * whole new one. Stale -wal, -shm and -journal files go first: SQLite would replay them into the new file.
 */
export function restoreDatabase(source: string, dbFile: string, shownAs = source, keyFile?: string) {
  if (!existsSync(source)) throw new Error(`${shownAs} does not exist`);
  if (!statSync(source).isFile()) throw new Error(`${shownAs} is not a file`);
  const dir = path.dirname(dbFile);
  mkdirSync(dir, { recursive: true });
  const tmp = `${dbFile}.restore-${randomBytes(6).toString('hex')}`;
  try {
    copyFileSync(source, tmp, constants.COPYFILE_EXCL);
    const current = existsSync(dbFile) ? statSync(dbFile) : null;
    chmodSync(tmp, current ? current.mode & 0o777 : 0o600);
    // Restoring as root for a server that runs as its own user: the file stays that user's.
    if (current && process.getuid?.() === 0) chownSync(tmp, current.uid, current.gid);
    fsyncPath(tmp);
    checkBackup(tmp, shownAs, keyFile);
    for (const suffix of SIDE_FILES) rmSync(`${tmp}${suffix}`, { force: true });

    const lock = takeDatabase(dbFile);
    try {
      for (const suffix of SIDE_FILES) rmSync(`${dbFile}${suffix}`, { force: true });
      renameSync(tmp, dbFile);
      fsyncPath(dir);
    } finally {
      lock.release();
    }
  } finally {
    for (const file of [tmp, ...SIDE_FILES.map((s) => `${tmp}${s}`)]) rmSync(file, { force: true });
  }
}
