import { lookup as systemLookup, Resolver } from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { isPublicAddress } from '../core/networks.js';
import { DELIVERY_TIMEOUT_MS, type WebhookSender } from '../core/webhooks.js';

/** Checked answers of a name are used this long (a queue of events costs one DNS question a minute). */
const CHECKED_FOR_MS = 60_000;

/**
 * SPEC §19's deliveries over HTTP(S). The target's name is resolved here and every address it
 * answers is checked (loopback, private, link-local and metadata addresses refused, unless
 * WEBHOOK_ALLOW_PRIVATE=true), then the connection goes to a checked address and no other: a
 * name that answers differently a moment later (DNS rebinding) cannot move it. Redirects are
 * answers like any other (a 3xx is not a 2xx: retried), never followed. Keep-alive connections
 * carry a webhook's queue one event after the other.
 */
export function createWebhookSender({ allowPrivate, dnsServers = [], timeoutMs = DELIVERY_TIMEOUT_MS }: { allowPrivate: boolean; dnsServers?: readonly string[]; timeoutMs?: number }): WebhookSender & { close(): void } {
  const agents = { 'http:': new http.Agent({ keepAlive: true, maxSockets: 4 }), 'https:': new https.Agent({ keepAlive: true, maxSockets: 4 }) };
  const checked = new Map<string, { address: string; family: number; until: number }>();

  // DNS_SERVERS: one resolver asked for every name; otherwise the system's, as getaddrinfo does.
  const resolver = dnsServers.length > 0 ? new Resolver({ timeout: 3000, tries: 1 }) : null;
  resolver?.setServers(dnsServers);
  const resolve = async (host: string): Promise<Array<{ address: string; family: number }>> => {
    if (!resolver) return systemLookup(host, { all: true, verbatim: true });
    const [v4, v6] = await Promise.all([resolver.resolve4(host).catch(() => [] as string[]), resolver.resolve6(host).catch(() => [] as string[])]);
    return [...v4.map((address) => ({ address, family: 4 })), ...v6.map((address) => ({ address, family: 6 }))];
  };

  /** The address to connect to, or why there is none. */
  const target = async (host: string): Promise<{ address: string; family: number } | { error: string }> => {
    const literal = host.replace(/^\[|\]$/g, '');
    if (isIP(literal) !== 0) return allowPrivate || isPublicAddress(literal) ? { address: literal, family: isIP(literal) } : { error: `refused: ${literal} is not a public address` };
    const known = checked.get(host);
    if (known && known.until > Date.now()) return known;
    let answers: Array<{ address: string; family: number }>;
    try {
      answers = await resolve(host);
    } catch (err) {
      return { error: `DNS: ${(err as { code?: string }).code ?? 'no answer'}` };
    }
    if (answers.length === 0) return { error: 'DNS: no address' };
    // Every answer is checked: one private address among public ones refuses the name.
    const bad = allowPrivate ? undefined : answers.find((a) => !isPublicAddress(a.address));
    if (bad) return { error: `refused: ${host} has the address ${bad.address}, which is not public` };
    const chosen = { ...answers[0]!, until: Date.now() + CHECKED_FOR_MS };
    checked.set(host, chosen);
    return chosen;
  };

  return {
    async post(href, headers, body) {
      const url = new URL(href);
      const to = await target(url.hostname);
      if ('error' in to) return to;
      const pinned: LookupFunction = (_host, options, callback) => {
        if ((options as { all?: boolean }).all) (callback as (e: null, a: Array<{ address: string; family: number }>) => void)(null, [{ address: to.address, family: to.family }]);
        else callback(null, to.address, to.family);
      };
      const client = url.protocol === 'https:' ? https : http;
      return new Promise((resolve) => {
        const signal = AbortSignal.timeout(timeoutMs);
        const request = client.request(
          url,
          { method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) }, agent: agents[url.protocol as 'http:' | 'https:'], lookup: pinned, signal },
          (response) => {
            // The answer's body is read (so the connection is kept) and dropped.
            response.on('data', () => {});
            response.on('end', () => resolve({ status: response.statusCode ?? 0 }));
            response.on('error', () => resolve({ error: signal.aborted ? 'timeout' : 'answer cut short' }));
          },
        );
        request.on('error', (err: NodeJS.ErrnoException) => resolve({ error: signal.aborted ? 'timeout' : `connect: ${err.code ?? err.message}` }));
        request.end(body);
      });
    },
    close() {
      agents['http:'].destroy();
      agents['https:'].destroy();
    },
  };
}
