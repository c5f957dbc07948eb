import { parseArgs } from 'node:util';
import pino from 'pino';
import { ConfigError, loadConfig } from '../config.js';
import { AppError, ValidationError } from '../core/errors.js';
import { createLogger } from '../log.js';
import { openServices, type Opened } from '../compose.js';
import type { Services } from '../services.js';
import { UsageError, type CliIo, type Command, type CommandContext } from './command.js';
import { adminAdd, adminDelete, adminDisable, adminEnable, adminList, adminPasswd } from './commands/admin.js';
import { backup } from './commands/backup.js';
import { credentialAdd } from './commands/credential.js';
import { domainAdd, domainList } from './commands/domain.js';
import { dovecotConfig } from './commands/dovecot-config.js';
import { dkimAdd } from './commands/dkim.js';
import { importCommand } from './commands/import.js';
import { limitsSet, limitsShow } from './commands/limits.js';
import { migrateStore } from './commands/migrate-store.js';
import { mailboxAdd, mailboxDisable, mailboxEnable, mailboxPasswd } from './commands/mailbox.js';
import { restore } from './commands/restore.js';
import { serveCommand } from './commands/serve.js';
import { tokenAdd } from './commands/token.js';
import { webhookAdd } from './commands/webhook.js';

export const COMMANDS: Command[] = [
  serveCommand,
  domainAdd,
  domainList,
  mailboxAdd,
  mailboxPasswd,
  mailboxDisable,
  mailboxEnable,
  adminAdd,
  adminList,
  adminPasswd,
  adminDisable,
  adminEnable,
  adminDelete,
  tokenAdd,
  webhookAdd,
  credentialAdd,
  backup,
  restore,
  dovecotConfig,
  migrateStore,
  importCommand,
  dkimAdd,
  limitsShow,
  limitsSet,
];

const GLOBAL_OPTIONS = { 'data-dir': { type: 'string' }, help: { type: 'boolean', short: 'h' } } as const;

function overview(): string {
  const width = Math.max(...COMMANDS.map((c) => c.path.join(' ').length));
  return [
    'mailpass: mail passwords, an admin panel and SMTP submission, in one process.',
    '',
    'Usage: mailpass <command> [options]     mailpass <command> --help',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.path.join(' ').padEnd(width)}  ${c.summary}`),
    '',
    'Every command takes --data-dir DIR (default: $DATA_DIR, then ./data).',
    'Exit codes: 0 success, 1 error, 2 bad usage.',
    '',
  ].join('\n');
}

function commandHelp(c: Command): string {
  return [`Usage: ${c.usage}`, '', `${c.summary[0]!.toUpperCase()}${c.summary.slice(1)}.`, ...(c.help ? ['', c.help] : []), '', 'Options:', '  --data-dir DIR  the data directory (default: $DATA_DIR, then ./data)', '  -h, --help      this help', ''].join('\n');
}

function findCommand(args: string[]): { command: Command; rest: string[] } | null {
  const words = args.filter((a) => !a.startsWith('-'));
  for (const c of [...COMMANDS].sort((a, b) => b.path.length - a.path.length)) {
    if (c.path.every((p, i) => words[i] === p)) {
      const rest = [...args];
      for (const p of c.path) rest.splice(rest.indexOf(p), 1);
      return { command: c, rest };
    }
  }
  return null;
}

const processIo = (): CliIo => ({
  stdin: process.stdin,
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  env: process.env,
});

/** A message on one line: control characters it echoes from the input (a newline, a terminal escape) are shown escaped. */
const printable = (text: string) => text.replace(/\p{Cc}/gu, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);

/** Runs one command line and returns its exit code: 0 success, 1 error (one line on stderr), 2 bad usage. */
export async function main(argv: string[], io: CliIo = processIo()): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    io.stdout(overview());
    return argv.length === 0 ? 2 : 0;
  }
  const found = findCommand(argv);
  if (!found) {
    io.stderr(`mailpass: unknown command "${printable(argv.filter((a) => !a.startsWith('-')).slice(0, 2).join(' '))}"; see mailpass --help\n`);
    return 2;
  }
  const { command, rest } = found;
  let opened: Promise<Opened> | null = null;
  try {
    const { values, positionals } = parseArgs({
      args: rest,
      options: { ...GLOBAL_OPTIONS, ...command.options },
      allowPositionals: true,
      strict: true,
    });
    if (values.help) {
      io.stdout(commandHelp(command));
      return 0;
    }
    // A missing required option is bad usage, named, not an error of the command.
    for (const name of command.required ?? []) {
      if ((values as Record<string, unknown>)[name] === undefined) throw new UsageError(`--${name} is required`);
    }
    if (positionals.length !== command.positionals) {
      throw new UsageError(`expected ${command.positionals} argument${command.positionals === 1 ? '' : 's'}, got ${positionals.length}`);
    }
    const dataDir = values['data-dir'] as string | undefined;
    const config = loadConfig({ ...io.env, ...(dataDir ? { DATA_DIR: dataDir } : {}) });
    const ctx: CommandContext = {
      io,
      config,
      async services(): Promise<Services> {
        // Commands print results on stdout; their logs go to stderr, warnings only.
        opened ??= openServices(config, createLogger(io.env.LOG_LEVEL ?? 'warn', pino.destination(2)));
        return (await opened).services;
      },
    };
    const code = await command.run(ctx, positionals, values);
    return typeof code === 'number' ? code : 0;
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.stderr(`mailpass: ${printable((err as Error).message)}\nUsage: ${command.usage}\n`);
      return 2;
    }
    if (err instanceof ValidationError) {
      io.stderr(`mailpass: ${printable(Object.values(err.fields).flat().join(' '))}\n`);
      return 1;
    }
    if (err instanceof ConfigError || err instanceof AppError) {
      io.stderr(`mailpass: ${printable(err.message)}\n`);
      return 1;
    }
    io.stderr(`mailpass: ${printable(err instanceof Error ? err.message : String(err))}\n`);
    return 1;
  } finally {
    await (await (opened as Promise<Opened> | null)?.catch(() => null))?.close();
  }
}
