import path from 'node:path';
import { restoreDatabase } from '../../store/sqlite/restore.js';
import type { Command } from '../command.js';

export const restore: Command = {
  path: ['restore'],
  usage: 'mailpass restore <file>',
  summary: 'replace the database with a checked backup (the server must be stopped)',
  help: [
    'Checks that <file> is an intact mailpass database (integrity_check, schema_migrations, no migration',
    'newer than this version), then swaps it in atomically. Refused while a server or another command',
    'has the database open. Older backups are brought up to date when the server next starts.',
  ].join('\n'),
  positionals: 1,
  async run(ctx, [file]) {
    if (ctx.config.database) throw new Error('the database is PostgreSQL (DATABASE_URL): restore it with pg_restore, see docs/operations.md');
    restoreDatabase(path.resolve(file!), ctx.config.dbFile, file!);
    ctx.io.stdout(`${ctx.config.dbFile}\n`);
  },
};
