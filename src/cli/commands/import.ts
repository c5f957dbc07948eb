import { closeSync, openSync, readSync } from 'node:fs';
import { cliActor } from '../../core/actors.js';
import { normalizeDomain } from '../../core/addresses.js';
import { ImportRefused, type ImportFormat } from '../../core/imports.js';
import { UsageError, type Command } from '../command.js';

/** Refused lines listed at most; the count says how many more. */
const MAX_LISTED = 20;

/**
 * The file read in chunks of this size: an import never holds the whole file (issue 36). 1 MiB chunks
 * lived long enough to reach V8's old space: a million lines peaked at 293 MiB, against 196-255 here.
 */
const CHUNK_BYTES = 1 << 16;

/**
 * The lines of `file`, read synchronously a chunk at a time (so that SQLite's transaction, which
 * runs the import's second pass, has no await inside it); a file that is not UTF-8 throws.
 */
function* fileLines(file: string): Generator<string> {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    throw new Error(`cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { cause: err });
  }
  try {
    const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
    const chunk = Buffer.allocUnsafe(CHUNK_BYTES);
    let rest = '';
    for (;;) {
      const n = readSync(fd, chunk, 0, CHUNK_BYTES, null);
      let text: string;
      try {
        text = rest + decoder.decode(chunk.subarray(0, n), { stream: n > 0 });
      } catch {
        throw new Error(`${file} is not UTF-8 text`);
      }
      const lines = text.split(/\r?\n/);
      if (n === 0) return yield* lines;
      rest = lines.pop()!;
      yield* lines;
    }
  } finally {
    closeSync(fd);
  }
}

export const importCommand: Command = {
  path: ['import'],
  usage: 'mailpass import <file> [--format passwd-file|csv] [--domain D] [--create-domains]',
  summary: 'import mailboxes with their existing password hashes (Dovecot passwd-file, or CSV)',
  help: [
    'A Dovecot passwd-file (user:{SCHEME}hash:uid:gid:gecos:...) or a CSV (address,password_hash,name,active;',
    'a header line is skipped). Schemes: ARGON2ID, ARGON2I, BLF-CRYPT, SHA512-CRYPT, SHA256-CRYPT, MD5-CRYPT,',
    'SSHA512, SSHA256; a bare $...$ crypt string is recognised by its prefix. Every line is checked first:',
    'one bad line refuses the file, by line number, and nothing is imported. Mailboxes already in mailpass',
    'are left as they are, so a second run changes nothing. Users keep their passwords; each is re-hashed',
    'to argon2id at its first login. docs/migrating.md walks through a move.',
    '',
    '  --format passwd-file|csv  the file format (default: csv for *.csv, else passwd-file)',
    '  --domain D                the domain of passwd-file users without one; only its mailboxes are taken',
    '  --create-domains          add the domains the file needs and mailpass lacks (else refused)',
  ].join('\n'),
  options: { format: { type: 'string' }, domain: { type: 'string' }, 'create-domains': { type: 'boolean' } },
  positionals: 1,
  async run(ctx, [file], values) {
    const format = (values.format as string | undefined) ?? (file!.toLowerCase().endsWith('.csv') ? 'csv' : 'passwd-file');
    if (format !== 'csv' && format !== 'passwd-file') throw new UsageError('--format must be passwd-file or csv');
    let domain: string | undefined;
    if (values.domain !== undefined) {
      try {
        domain = normalizeDomain(values.domain);
      } catch {
        throw new UsageError('--domain must be a domain name such as example.com');
      }
    }
    // A file that cannot be read is said before anything else starts.
    const first = fileLines(file!);
    first.next();
    first.return(undefined);
    const svc = await ctx.services();
    try {
      const s = await svc.imports.importMailboxes(cliActor, () => fileLines(file!), { format: format as ImportFormat, domain, createDomains: values['create-domains'] === true });
      ctx.io.stdout(`created ${s.created}, unchanged ${s.unchanged} (already in mailpass), refused 0\n`);
      if (s.domainsCreated.length > 0) ctx.io.stdout(`domains added: ${s.domainsCreated.join(', ')}\n`);
      for (const [scheme, n] of Object.entries(s.schemes)) ctx.io.stdout(`${scheme.padEnd(13)} ${n}\n`);
    } catch (err) {
      if (!(err instanceof ImportRefused)) throw err;
      const listed = err.problems.slice(0, MAX_LISTED).map((p) => `line ${p.line}: ${p.why}`);
      if (err.problems.length > MAX_LISTED) listed.push(`... and ${err.problems.length - MAX_LISTED} more`);
      ctx.io.stderr(`${listed.join('\n')}\n`);
      throw err;
    }
  },
};
