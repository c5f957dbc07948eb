import { isSuper, type Actor } from './actors.js';
import { tryParseAddress } from './addresses.js';
import type { Audit } from './audit.js';
import { NotFoundError } from './errors.js';
import { parseImportedHash, WEAK_SCHEMES, type Scheme } from './hash-schemes.js';
import type { Clock, ImportedMailbox, Stores } from './ports.js';

export type ImportFormat = 'passwd-file' | 'csv';

/** A file that cannot be imported whole: each refused line with its number. Nothing was written. */
export class ImportRefused extends Error {
  override name = 'ImportRefused';
  constructor(readonly problems: Array<{ line: number; why: string }>) {
    super(`${problems.length} line${problems.length === 1 ? '' : 's'} refused; nothing was imported`);
  }
}

export interface ImportSummary {
  created: number;
  /** Mailboxes whose login was there already: left as they are (a second run changes nothing). */
  unchanged: number;
  domainsCreated: string[];
  /** Mailboxes of the file per scheme. */
  schemes: Partial<Record<Scheme, number>>;
}

/** One CSV record's fields: commas separate, double quotes enclose, "" is a quote. */
function csvFields(line: string): string[] | null {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    let field = '';
    if (line[i] === '"') {
      i++;
      for (;;) {
        if (i >= line.length) return null;
        if (line[i] === '"') {
          if (line[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        field += line[i++];
      }
    } else {
      while (i < line.length && line[i] !== ',') field += line[i++];
    }
    fields.push(field);
    if (i >= line.length) return fields;
    if (line[i] !== ',') return null;
    i++;
  }
}

const ACTIVE: Record<string, boolean> = { '1': true, true: true, yes: true, y: true, '0': false, false: false, no: false, n: false, '': true };

/** The lines of an import, read afresh at each call: the file is read twice, checked and then written. */
export type ImportLines = () => Iterable<string>;

type ParsedLine = { mailbox: ImportedMailbox; scheme: Scheme } | { why: string } | null;

/**
 * SPEC §13: mailboxes with their existing hashes, from a Dovecot passwd-file (`user:{SCHEME}hash:...`)
 * or a CSV (`address,password_hash,name,active`). Every line is checked first; one bad line refuses
 * the file. Then one transaction: missing domains made (with `createDomains`), mailboxes whose
 * login is free inserted, the others left as they are.
 *
 * The lines are read twice and never held all at once (issue 36: a million lines held as one text,
 * its lines and their mailboxes took the CLI to 1.1 GiB): the first pass checks them and keeps only
 * each address (for lines given twice) and counts; the second parses them again into the store's
 * transaction. A file that changed in between fails that transaction, and nothing is written.
 */
export function createImports({ stores, clock, audit, allowWeak }: { stores: Pick<Stores, 'accounts' | 'domains'>; clock: Clock; audit: Audit; allowWeak: boolean }) {
  /** One line of the file: its mailbox, why it is refused, or null for a comment, a blank or the CSV header. */
  const parseLine = (raw: string, index: number, format: ImportFormat, domain: string | undefined, seen?: Set<string>): ParsedLine => {
    if (raw.trim() === '' || raw.startsWith('#')) return null;
    let user: string;
    let hashText: string;
    let name = '';
    let disabled = false;
    if (format === 'csv') {
      const fields = csvFields(raw);
      if (!fields || fields.length < 2) return { why: 'expected address,password_hash[,name[,active]]' };
      if (index === 0 && fields[0]!.trim().toLowerCase() === 'address') return null;
      [user, hashText] = [fields[0]!, fields[1]!];
      name = (fields[2] ?? '').trim();
      const active = ACTIVE[(fields[3] ?? '').trim().toLowerCase()];
      if (active === undefined) return { why: `active must be 1 or 0, not "${fields[3]}"` };
      disabled = !active;
    } else {
      const fields = raw.split(':');
      if (fields.length < 2) return { why: 'expected user:{SCHEME}hash[:...]' };
      [user, hashText] = [fields[0]!, fields[1]!];
      // The gecos field, when there is one, is the display name.
      name = (fields[4] ?? '').trim();
    }
    const login = user.includes('@') || !domain ? user : `${user}@${domain}`;
    const address = tryParseAddress(login);
    if (!address) return { why: user.includes('@') || domain ? `"${user.slice(0, 80)}" is not an address` : `"${user.slice(0, 80)}" has no domain (give --domain)` };
    if (domain && address.domain !== domain) return { why: `${address.address} is not of --domain ${domain}` };
    if (seen?.has(address.address)) return { why: `${address.address} is in the file twice` };
    seen?.add(address.address);
    const hash = parseImportedHash(hashText);
    if ('error' in hash) return { why: hash.error };
    if (!allowWeak && WEAK_SCHEMES.has(hash.scheme)) return { why: `${hash.scheme} is weak and ALLOW_LEGACY_SCHEMES is false` };
    if (/\p{Cc}/u.test(name) || Array.from(name).length > 100) name = '';
    return { mailbox: { login: address.address, localPart: address.localPart, domain: address.domain, name, passwordHash: hash.stored, disabled }, scheme: hash.scheme };
  };

  return {
    async importMailboxes(
      actor: Actor,
      source: string | ImportLines,
      { format, domain, createDomains = false }: { format: ImportFormat; domain?: string; createDomains?: boolean },
    ): Promise<ImportSummary> {
      if (!isSuper(actor)) throw new NotFoundError('domain-not-found', 'Domain not found');
      const lines: ImportLines = typeof source === 'string' ? () => source.split(/\r?\n/) : source;
      const problems: Array<{ line: number; why: string }> = [];
      const schemes: Partial<Record<Scheme, number>> = {};
      const seen = new Set<string>();
      /** Each domain of the file and its first line, for a domain that is missing. */
      const domains = new Map<string, number>();
      let index = 0;
      let count = 0;
      for (const raw of lines()) {
        const parsed = parseLine(raw, index++, format, domain, seen);
        if (parsed === null) continue;
        if ('why' in parsed) {
          problems.push({ line: index, why: parsed.why });
          continue;
        }
        const { mailbox, scheme } = parsed;
        count++;
        if (!domains.has(mailbox.domain)) domains.set(mailbox.domain, index);
        schemes[scheme] = (schemes[scheme] ?? 0) + 1;
      }
      seen.clear();
      const missing: string[] = [];
      for (const d of domains.keys()) if (!(await stores.domains.findDomainByName(d))) missing.push(d);
      if (missing.length > 0 && !createDomains) {
        for (const d of missing) problems.push({ line: domains.get(d)!, why: `no domain ${d} (add it, or give --create-domains)` });
      }
      if (problems.length > 0) throw new ImportRefused(problems.sort((a, b) => a.line - b.line));

      // The second pass, inside the store's transaction: the same lines, or nothing is written.
      const changed = () => new Error('the file changed while it was imported; nothing was imported');
      function* mailboxes(): Generator<ImportedMailbox> {
        let i = 0;
        let n = 0;
        for (const raw of lines()) {
          const parsed = parseLine(raw, i++, format, domain);
          if (parsed === null) continue;
          if ('why' in parsed || ++n > count) throw changed();
          yield parsed.mailbox;
        }
        if (n !== count) throw changed();
      }
      const entry = audit.entry(actor, 'mailbox.import', `${count} mailboxes`, null, `format:${format} `);
      const { created, existing } = await stores.accounts.importMailboxes({ domains: missing, mailboxes: mailboxes(), now: clock.now() }, entry);
      audit.logged(entry);
      return { created, unchanged: existing, domainsCreated: missing, schemes };
    },
  };
}

export type Imports = ReturnType<typeof createImports>;
