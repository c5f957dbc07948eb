import { isUtf8 } from 'node:buffer';
import type { ParseArgsConfig } from 'node:util';
import type { Config, Env } from '../config.js';
import { ValidationError } from '../core/errors.js';
import type { Services } from '../services.js';

export interface CliIo {
  stdin: NodeJS.ReadableStream;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: Env;
}

/** Wrong arguments: exit code 2 with the command's usage. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export interface CommandContext {
  io: CliIo;
  config: Config;
  /** Opens the database and services on first use and closes them when the command ends. */
  services(): Promise<Services>;
}

export type Values = Record<string, string | boolean | string[] | undefined>;

export interface Command {
  /** e.g. ['mailbox', 'passwd'] */
  path: string[];
  usage: string;
  summary: string;
  /** Longer help after the usage line. */
  help?: string;
  options?: ParseArgsConfig['options'];
  /** Options that must be given (a missing one is bad usage, exit 2, with its name). */
  required?: string[];
  positionals: number;
  run(ctx: CommandContext, positionals: string[], values: Values): Promise<number | void>;
}

export const passwordOptions = {
  'password-stdin': { type: 'boolean' },
  generate: { type: 'boolean' },
} as const;

/** Reads the password from standard input (one trailing newline removed) or asks for one to be generated. */
export async function passwordSource(ctx: CommandContext, values: Values): Promise<{ password: string } | { generate: true }> {
  if (values['password-stdin'] && values.generate) throw new UsageError('use either --password-stdin or --generate, not both');
  if (values.generate) return { generate: true };
  if (!values['password-stdin']) throw new UsageError('a password is needed: --password-stdin or --generate');
  const chunks: Buffer[] = [];
  for await (const chunk of ctx.io.stdin) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string));
  const bytes = Buffer.concat(chunks);
  // Decoding invalid UTF-8 would silently store another password (with U+FFFD) than the one sent.
  if (!isUtf8(bytes)) throw new ValidationError({ password: ['Must be valid UTF-8 text.'] });
  return { password: bytes.toString('utf8').replace(/\r?\n$/, '') };
}
