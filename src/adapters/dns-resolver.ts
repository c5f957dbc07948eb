import { Resolver } from 'node:dns/promises';
import type { DnsAnswer, DnsQuery, DnsResolver } from '../core/ports.js';

/** Codes that mean "asked and answered: there is nothing" rather than "no answer". */
const NOTHING = new Set(['ENODATA', 'ENOTFOUND']);

/**
 * SPEC §14's `Check DNS` through node's resolver (c-ares): the servers of DNS_SERVERS, or the
 * system's. Every question of a check is asked at once, and whatever has not been answered when the
 * budget (3 s) runs out is cancelled and reported as `failed`.
 */
export function createDnsResolver({ servers, budgetMs = 3000 }: { servers: readonly string[]; budgetMs?: number }): DnsResolver {
  return {
    async lookup(queries: readonly DnsQuery[]): Promise<DnsAnswer[]> {
      const resolver = new Resolver({ timeout: budgetMs, tries: 1 });
      if (servers.length > 0) resolver.setServers(servers);
      let late = false;
      const timer = setTimeout(() => {
        late = true;
        resolver.cancel();
      }, budgetMs);
      const ask = async (q: DnsQuery): Promise<DnsAnswer> => {
        try {
          const values =
            q.type === 'TXT'
              ? (await resolver.resolveTxt(q.name)).map((chunks) => chunks.join(''))
              : q.type === 'SRV'
                ? (await resolver.resolveSrv(q.name)).map((r) => `${r.priority} ${r.weight} ${r.port} ${r.name === '' ? '.' : `${r.name}.`}`)
                : q.type === 'CNAME'
                  ? await resolver.resolveCname(q.name)
                  : q.type === 'A'
                    ? await resolver.resolve4(q.name)
                    : await resolver.resolve6(q.name);
          return values.length > 0 ? { kind: 'values', values } : { kind: 'none' };
        } catch (err) {
          const code = (err as { code?: string }).code ?? '';
          if (NOTHING.has(code)) return { kind: 'none' };
          if (late || code === 'ECANCELLED' || code === 'ETIMEOUT') return { kind: 'failed', reason: `No answer within ${budgetMs / 1000} s.` };
          return { kind: 'failed', reason: `DNS answered ${code || 'with an error'}.` };
        }
      };
      try {
        return await Promise.all(queries.map(ask));
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
