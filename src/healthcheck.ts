// `node dist/healthcheck.js`: the container's HEALTHCHECK. Exits 0 when this server's /healthz
// answers 200 (the database answers and the SMTP listeners accept), 1 otherwise.
import { pathToFileURL } from 'node:url';
import { loadConfig, type Config } from './config.js';

/**
 * Where the panel of a server with this configuration answers: on HOST itself, or on loopback when
 * HOST is a wildcard (a specific address such as 10.0.0.5 does not answer on 127.0.0.1).
 */
export function healthUrl({ host, port }: Pick<Config, 'host' | 'port'>): string {
  const address = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return `http://${address.includes(':') ? `[${address}]` : address}:${port}/healthz`;
}

async function check(): Promise<number> {
  try {
    const res = await fetch(healthUrl(loadConfig(process.env)), { signal: AbortSignal.timeout(4000) });
    return res.ok ? 0 : 1;
  } catch {
    return 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) process.exitCode = await check();
