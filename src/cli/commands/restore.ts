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
    'The backup\'s secrets are sealed: the key file it was made with (SECRET_KEY_FILE, by default',
    'DATA_DIR/secret.key) must be in place first; a backup whose key is not there is refused.',
  ].join('\n'),
  positionals: 1,
  async run(ctx, [file]) {
    if (ctx.config.database) throw new Error('the database is PostgreSQL (DATABASE_URL): restore it with pg_restore, see docs/operations.md');
    restoreDatabase(path.resolve(file!), ctx.config.dbFile, file!, ctx.config.secretKeyFile);
    ctx.io.stdout(`${ctx.config.dbFile}\n`);
  },
};
