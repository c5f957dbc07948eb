import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** A numbered schema change: `NNN-name.sql` in a store's migrations directory. */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** The migrations in `dir`, in order. */
export function readMigrationFiles(dir: string): Migration[] {
  return readdirSync(dir)
    .filter((f) => /^\d{3}-[a-z0-9-]+\.sql$/.test(f))
    .sort()
    .map((f) => ({ version: Number(f.slice(0, 3)), name: f.slice(4, -4), sql: readFileSync(path.join(dir, f), 'utf8') }));
}
