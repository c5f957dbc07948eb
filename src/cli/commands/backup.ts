import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Command } from '../command.js';

export const backup: Command = {
  path: ['backup'],
  usage: 'mailpass backup <file>',
  summary: 'write a consistent copy of the database, also while the server runs',
  help: "Uses SQLite's online backup: writers are not blocked, and the copy is one consistent point in time.",
  positionals: 1,
  async run(ctx, [file]) {
    if (ctx.config.database) throw new Error('the database is PostgreSQL (DATABASE_URL): back it up with pg_dump, see docs/operations.md');
    const target = path.resolve(file!);
    if (existsSync(target)) throw new Error(`${file} exists already; choose a new file`);
    const svc = await ctx.services();
    await svc.database.backup(target);
    ctx.io.stdout(`${target}\n`);
  },
};
