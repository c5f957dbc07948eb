import type { ImapSessions, Logger } from '../core/ports.js';

/** doveadm's exit code when the user has no session: for a kick, nothing left to do. */
const NO_SESSION = 68;
/** The waits before each retry of a kick that failed (Dovecot restarting, a network blip). */
const RETRY_MS = [250, 1_000, 4_000];
const TIMEOUT_MS = 5_000;

/**
 * SPEC §13: ends an account's IMAP and POP3 sessions through Dovecot's doveadm HTTP API (`kick`,
 * one command a request). A kick never fails or delays the change that asked for it: failures are
 * retried a few times in the background, then logged.
 */
export function createDoveadmKicker({ url, apiKey, log }: { url: string; apiKey: string; log: Logger }): ImapSessions & { settled(): Promise<void> } {
  const endpoint = url.replace(/\/+$/, '').endsWith('/doveadm/v1') ? url : `${url.replace(/\/+$/, '')}/doveadm/v1`;
  const authorization = `X-Dovecot-API ${Buffer.from(apiKey).toString('base64')}`;
  const pending = new Set<Promise<void>>();

  /** One request: true when Dovecot kicked the user or it had no session. */
  const once = async (user: string): Promise<{ ok: boolean; why?: string }> => {
    const res = await fetch(endpoint, {
      method: 'POST',
      headers: { authorization, 'content-type': 'application/json' },
      body: JSON.stringify([['kick', { mask: user }, 'k']]),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    if (res.status !== 200) return { ok: false, why: `HTTP ${res.status}` };
    const [reply] = (await res.json()) as Array<[string, { exitCode?: number; type?: string } | unknown, string]>;
    if (reply?.[0] === 'doveadmResponse') return { ok: true };
    const error = reply?.[1] as { exitCode?: number; type?: string } | undefined;
    if (reply?.[0] === 'error' && error?.exitCode === NO_SESSION) return { ok: true };
    return { ok: false, why: `doveadm ${error?.type ?? 'error'} ${error?.exitCode ?? ''}`.trim() };
  };

  const kick = async (user: string) => {
    let why = '';
    for (let attempt = 0; attempt <= RETRY_MS.length; attempt++) {
      try {
        const r = await once(user);
        if (r.ok) return void log.debug({ user }, 'IMAP sessions kicked');
        why = r.why ?? '';
      } catch (err) {
        why = (err as Error).name === 'TimeoutError' ? 'timeout' : ((err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message);
      }
      if (attempt < RETRY_MS.length) await new Promise((resolve) => setTimeout(resolve, RETRY_MS[attempt]).unref());
    }
    log.warn({ user, why }, 'doveadm kick failed; IMAP sessions of the account stay until they end');
  };

  return {
    end(user) {
      const job: Promise<void> = kick(user).finally(() => pending.delete(job));
      pending.add(job);
    },
    async settled() {
      while (pending.size > 0) await Promise.all([...pending]);
    },
  };
}
