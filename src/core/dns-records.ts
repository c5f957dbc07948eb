import { isIP } from 'node:net';
import { canSeeDomain, type Actor } from './actors.js';
import type { ClientServers } from './autoconfig.js';
import { dkimRecordOf } from './dkim.js';
import { NotFoundError } from './errors.js';
import type { Clock, DnsAnswer, DnsQuery, DnsResolver, Domain, Stores } from './ports.js';

/** What a check found for a record: SPEC §14's three, and `no answer` when DNS did not answer in time. */
export type DnsStatus = 'ok' | 'missing' | 'different' | 'no answer';

/** A record the domain needs, with its expected value. */
export interface NeededRecord {
  /** Which need it meets (stable, for the kept results): `spf`, `dmarc`, `dkim:<selector>`, `srv:_submission._tcp`… */
  id: string;
  label: string;
  type: 'TXT' | 'SRV' | 'CNAME' | 'A' | 'AAAA';
  name: string;
  /** What to publish (empty: nothing can be published yet; `note` says why). */
  value: string;
  note?: string;
}

export interface CheckedRecord extends NeededRecord {
  /** null: not checked since this value was expected. */
  status: DnsStatus | null;
  /** What DNS answered (the values of the record's type at its name). */
  answer: string[];
  /** Why it is not ok, in a sentence (several SPF records, a policy of none…). */
  why?: string;
}

export interface DnsPage {
  domain: string;
  records: CheckedRecord[];
  checkedAt: number | null;
  problems: number | null;
}

interface KeptResult {
  id: string;
  value: string;
  status: DnsStatus;
  answer: string[];
  why?: string;
}

/** The SPF mechanisms mailpass's set-up needs, and which `all` it ends with. */
const spfValue = (smtpHost: string) => `v=spf1 mx a:${smtpHost} ~all`;
const dmarcValue = 'v=DMARC1; p=quarantine';
/** RFC 6186 §3.4: a target of "." says the service is not offered. */
const NOT_OFFERED = '0 0 0 .';
const srvValue = (port: number, host: string) => (port ? `0 1 ${port} ${host}.` : NOT_OFFERED);

const lower = (s: string) => s.trim().toLowerCase();
const withoutDot = (s: string) => lower(s).replace(/\.$/, '');

/** `k=v; k=v` tags (DKIM, DMARC), names lowercased, values trimmed. */
function tags(record: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of record.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) out.set(lower(part.slice(0, eq)), part.slice(eq + 1).trim());
  }
  return out;
}

type Verdict = { status: DnsStatus; why?: string };

/** SPF: one `v=spf1` record that names every mechanism of ours (more are fine: a smarthost's include) and ends in ~all or -all. */
function judgeSpf(expected: string, found: string[]): Verdict {
  const spf = found.filter((v) => /^v=spf1(\s|$)/i.test(v.trim()));
  if (spf.length === 0) return { status: 'missing' };
  if (spf.length > 1) return { status: 'different', why: 'Several SPF records: receivers treat that as an error (RFC 7208 §4.5). Merge them into one.' };
  const terms = spf[0]!.trim().toLowerCase().split(/\s+/).map((t) => t.replace(/^\+/, ''));
  const wanted = expected.toLowerCase().split(/\s+/).slice(1, -1);
  const absent = wanted.filter((m) => !terms.includes(m));
  if (absent.length > 0) return { status: 'different', why: `It does not allow ${absent.join(' and ')}.` };
  const all = terms.at(-1);
  if (all !== '~all' && all !== '-all') return { status: 'different', why: 'It does not end in ~all or -all, so it lets any server send as the domain.' };
  return { status: 'ok' };
}

/** DMARC: one `v=DMARC1` record whose policy protects (quarantine or reject); other tags are the domain's choice. */
function judgeDmarc(found: string[]): Verdict {
  const dmarc = found.filter((v) => /^v=DMARC1\s*(;|$)/i.test(v.trim()));
  if (dmarc.length === 0) return { status: 'missing' };
  if (dmarc.length > 1) return { status: 'different', why: 'Several DMARC records: receivers ignore them all (RFC 7489 §6.6.3).' };
  const policy = lower(tags(dmarc[0]!).get('p') ?? '');
  if (policy !== 'quarantine' && policy !== 'reject') return { status: 'different', why: policy ? `Its policy is p=${policy}: receivers only report mail that fails, and deliver it.` : 'Its policy is missing: receivers only report mail that fails, and deliver it.' };
  return { status: 'ok' };
}

/** DKIM: a record with this key (`p=`, whitespace ignored) and algorithm (`k=`, rsa when absent). */
function judgeDkim(expected: string, found: string[]): Verdict {
  const want = tags(expected);
  const records = found.map(tags).filter((t) => t.has('p'));
  if (records.length === 0) return { status: 'missing' };
  const key = (t: Map<string, string>) => t.get('p')!.replace(/\s+/g, '');
  const same = records.some((t) => key(t) === key(want) && lower(t.get('k') ?? 'rsa') === want.get('k'));
  return same ? { status: 'ok' } : { status: 'different', why: 'The published key is not this key.' };
}

/** SRV: a record with this port and target (priority and weight are the domain's choice). */
function judgeSrv(expected: string, found: string[]): Verdict {
  if (found.length === 0) return { status: 'missing' };
  const [, , port, target] = expected.split(' ');
  const matches = found.some((v) => {
    const [, , p, t] = v.split(' ');
    return p === port && withoutDot(t ?? '') === withoutDot(target!);
  });
  return matches ? { status: 'ok' } : { status: 'different' };
}

/** An answer's values, or the verdict it already is (nothing there, or no answer). */
const valuesOf = (a: DnsAnswer): string[] | Verdict =>
  a.kind === 'values' ? a.values : a.kind === 'none' ? [] : { status: 'no answer', why: a.reason };

/**
 * SPEC §14's DNS page: every record a domain needs for mail from mailpass to arrive (SPF, DKIM,
 * DMARC) and for mail clients to find their servers (SRV, autoconfig), and `Check DNS`, which asks
 * DNS for each and keeps the result: the domain list counts the problems of the last check.
 */
export function createDnsRecordsService({
  stores,
  clock,
  resolver,
  servers,
}: {
  stores: Pick<Stores, 'dkimKeys' | 'dnsChecks'>;
  clock: Clock;
  resolver: DnsResolver;
  servers: ClientServers;
}) {
  const checked = (actor: Actor, domain: Domain) => {
    if (!canSeeDomain(actor, domain.id)) throw new NotFoundError('domain-not-found', 'Domain not found');
  };

  /**
   * The records of `domain`. `webHost` is the panel's host name as the admin's browser reached it:
   * autoconfig.<domain> and autodiscover.<domain> must lead there (an address when it is one).
   */
  async function needed(domain: Domain, webHost: string): Promise<NeededRecord[]> {
    const d = domain.name;
    const { smtp, imap } = servers;
    const records: NeededRecord[] = [
      { id: 'spf', label: 'SPF', type: 'TXT', name: d, value: spfValue(smtp.host), note: 'Mail relayed by mailpass leaves from the mail host; a smarthost needs its own include: in this record too.' },
    ];
    const keys = await stores.dkimKeys.listDkimKeys(domain.id);
    if (keys.length === 0) {
      records.push({ id: 'dkim', label: 'DKIM', type: 'TXT', name: `<selector>._domainkey.${d}`, value: '', note: 'No DKIM keys yet: add them on the domain page, then publish their records.' });
    }
    for (const k of keys) {
      const r = dkimRecordOf(d, k);
      records.push({ id: `dkim:${r.selector}`, label: `DKIM (${r.algorithm === 'rsa' ? 'RSA' : 'Ed25519'})`, type: 'TXT', name: r.name, value: r.value });
    }
    records.push(
      { id: 'dmarc', label: 'DMARC', type: 'TXT', name: `_dmarc.${d}`, value: dmarcValue, note: 'Add rua=mailto:… to receive reports; start with p=none for a week if other servers send as the domain.' },
      { id: 'srv:_submission._tcp', label: 'Submission (STARTTLS)', type: 'SRV', name: `_submission._tcp.${d}`, value: srvValue(smtp.submissionPort, smtp.host) },
      { id: 'srv:_submissions._tcp', label: 'Submission (TLS)', type: 'SRV', name: `_submissions._tcp.${d}`, value: srvValue(smtp.submissionsPort, smtp.host) },
      {
        id: 'srv:_imaps._tcp',
        label: 'IMAP (TLS)',
        type: 'SRV',
        name: `_imaps._tcp.${d}`,
        value: imap ? srvValue(imap.port, imap.host) : NOT_OFFERED,
        ...(imap ? {} : { note: 'IMAP_HOST is not set, so this says there is no IMAP; set IMAP_HOST if Dovecot serves the domain.' }),
      },
    );
    // The Host header is the browser's to send: anything but a host name or an address is not
    // looked up, and the mail host stands in for it.
    const asked = webHost.replace(/^\[|\]$/g, '').toLowerCase();
    const host = isIP(asked) || /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?$/.test(asked) ? asked : smtp.host;
    const family = isIP(host);
    for (const [id, label] of [['autoconfig', 'Thunderbird autoconfig'], ['autodiscover', 'Outlook Autodiscover']] as const) {
      records.push({ id, label, type: family === 4 ? 'A' : family === 6 ? 'AAAA' : 'CNAME', name: `${id}.${d}`, value: family ? host : `${host}.`, note: 'The host of this panel, which must answer HTTPS there.' });
    }
    return records;
  }

  /** The questions of a check, and how each record reads its answers. */
  function plan(records: NeededRecord[]) {
    const queries: DnsQuery[] = [];
    const ask = (q: DnsQuery) => queries.push(q) - 1;
    const judges = records.map((r): ((answers: DnsAnswer[]) => Verdict & { answer: string[] }) => {
      if (r.value === '') return () => ({ status: 'missing', answer: [] });
      if (r.type === 'TXT' || r.type === 'SRV') {
        const i = ask({ name: r.name, type: r.type });
        return (answers) => {
          const found = valuesOf(answers[i]!);
          if (!Array.isArray(found)) return { ...found, answer: [] };
          const verdict = r.id === 'spf' ? judgeSpf(r.value, found) : r.id === 'dmarc' ? judgeDmarc(found) : r.type === 'SRV' ? judgeSrv(r.value, found) : judgeDkim(r.value, found);
          // A TXT name holds other records too (site verification…): show the ones of this kind.
          const shown = r.type === 'TXT' && r.id === 'spf' ? found.filter((v) => /^v=spf1/i.test(v.trim())) : found;
          return { ...verdict, answer: shown };
        };
      }
      // autoconfig/autodiscover: a CNAME to the panel's host, or addresses the panel's host has too.
      const cname = ask({ name: r.name, type: 'CNAME' });
      const mine = [ask({ name: r.name, type: 'A' }), ask({ name: r.name, type: 'AAAA' })];
      const host = r.value.replace(/\.$/, '');
      const theirs = isIP(host) ? null : [ask({ name: host, type: 'A' }), ask({ name: host, type: 'AAAA' })];
      return (answers) => {
        const target = valuesOf(answers[cname]!);
        const addresses = mine.map((i) => valuesOf(answers[i]!));
        const failed = [target, ...addresses].find((v): v is Verdict => !Array.isArray(v));
        const names = Array.isArray(target) ? target : [];
        const own = addresses.flatMap((v) => (Array.isArray(v) ? v : []));
        const answer = [...names.map((n) => `${withoutDot(n)}.`), ...own];
        if (names.some((n) => withoutDot(n) === withoutDot(host))) return { status: 'ok', answer };
        const panel = theirs ? theirs.flatMap((i) => { const v = valuesOf(answers[i]!); return Array.isArray(v) ? v : []; }) : [host];
        if (own.some((a) => panel.includes(a))) return { status: 'ok', answer };
        if (answer.length > 0) return { status: 'different', answer, why: `It does not lead to ${host}.` };
        return failed ? { ...failed, answer } : { status: 'missing', answer };
      };
    });
    return { queries, judge: (answers: DnsAnswer[]) => judges.map((j) => j(answers)) };
  }

  const merge = (records: NeededRecord[], kept: KeptResult[]): CheckedRecord[] =>
    records.map((r) => {
      // A result counts only for the value it was checked against (a new DKIM key, a new port: not checked).
      const k = kept.find((x) => x.id === r.id && x.value === r.value);
      return { ...r, status: k?.status ?? null, answer: k?.answer ?? [], ...(k?.why ? { why: k.why } : {}) };
    });

  /** Checks under way, by domain and panel host (the autoconfig records depend on the host). */
  const running = new Map<string, Promise<DnsPage>>();

  return {
    /** The records with the results of the last check. */
    async page(actor: Actor, domain: Domain, webHost: string): Promise<DnsPage> {
      checked(actor, domain);
      const [records, last] = await Promise.all([needed(domain, webHost), stores.dnsChecks.getDnsCheck(domain.id)]);
      const kept: KeptResult[] = last ? JSON.parse(last.results) : [];
      return { domain: domain.name, records: merge(records, kept), checkedAt: last?.checkedAt ?? null, problems: last?.problems ?? null };
    },

    /** `Check DNS`: asks DNS for every record at once (one budget for all), keeps and returns the result. One check of a domain (for one panel host) runs at a time. */
    async check(actor: Actor, domain: Domain, webHost: string): Promise<DnsPage> {
      checked(actor, domain);
      const key = `${domain.id} ${webHost}`;
      const pending = running.get(key);
      if (pending) return pending;
      const run = (async () => {
        const records = await needed(domain, webHost);
        const { queries, judge } = plan(records);
        const verdicts = judge(await resolver.lookup(queries));
        const kept: KeptResult[] = records.map((r, i) => ({ id: r.id, value: r.value, ...verdicts[i]! }));
        const problems = kept.filter((k) => k.status !== 'ok').length;
        const checkedAt = clock.now();
        await stores.dnsChecks.saveDnsCheck(domain.id, { checkedAt, problems, results: JSON.stringify(kept) });
        return { domain: domain.name, records: merge(records, kept), checkedAt, problems };
      })();
      running.set(key, run);
      try {
        return await run;
      } finally {
        running.delete(key);
      }
    },
  };
}

export type DnsRecordsService = ReturnType<typeof createDnsRecordsService>;
